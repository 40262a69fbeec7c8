import { describe, it } from 'vitest';
import { defineDirectoryCompliance } from './compliance.js';
import { harnessFactory, postgresBackend, unavailableBackendPolicy } from './harness.js';

const backend = postgresBackend();
const policy = unavailableBackendPolicy(backend);

if (policy === 'run') {
  defineDirectoryCompliance('postgres', harnessFactory(backend));
} else if (policy === 'fail') {
  describe('directory compliance: postgres', () => {
    it('has a PostgreSQL to run against', () => {
      throw new Error(`CLOUDP2P_REQUIRE_ALL_DATABASES=1 but ${backend.unavailable}`);
    });
  });
} else {
  console.warn(`directory compliance suite for PostgreSQL SKIPPED: ${backend.unavailable}`);
  describe.skip('directory compliance: postgres (set CLOUDP2P_TEST_POSTGRES_URL to run)', () => {
    it('needs CLOUDP2P_TEST_POSTGRES_URL', () => undefined);
  });
}

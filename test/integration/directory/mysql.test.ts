import { describe, it } from 'vitest';
import { defineDirectoryCompliance } from './compliance.js';
import { harnessFactory, mysqlBackend, unavailableBackendPolicy } from './harness.js';

const backend = mysqlBackend();
const policy = unavailableBackendPolicy(backend);

if (policy === 'run') {
  defineDirectoryCompliance('mysql', harnessFactory(backend));
} else if (policy === 'fail') {
  describe('directory compliance: mysql', () => {
    it('has a MariaDB/MySQL to run against', () => {
      throw new Error(`CLOUDP2P_REQUIRE_ALL_DATABASES=1 but ${backend.unavailable}`);
    });
  });
} else {
  console.warn(`directory compliance suite for MariaDB/MySQL SKIPPED: ${backend.unavailable}`);
  describe.skip('directory compliance: mysql (set CLOUDP2P_TEST_MYSQL_URL to run)', () => {
    it('needs CLOUDP2P_TEST_MYSQL_URL', () => undefined);
  });
}

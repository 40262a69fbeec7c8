import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { CloudClient } from '../../../src/client/cloud-client.js';
import { DirectoryClient } from '../../../src/peer/directory-client.js';
import type { Endpoint } from '../../../src/transport/endpoint.js';
import { CloudP2PError } from '../../../src/util/errors.js';

/** Loopback addresses nothing listens on (a port taken from the OS, then freed). */
async function closedPorts(count: number): Promise<Endpoint[]> {
  const endpoints: Endpoint[] = [];
  for (let i = 0; i < count; i++) {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('no port');
    endpoints.push({ host: '127.0.0.1', port: address.port });
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  return endpoints;
}

const FINGERPRINT = { kind: 'fingerprint', caFingerprint: 'ab'.repeat(32) } as const;

async function failure(work: Promise<unknown>): Promise<CloudP2PError> {
  const err = await work.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CloudP2PError);
  return err as CloudP2PError;
}

describe('a cloud whose ports are closed', () => {
  // Reply and connect timeouts far longer than the test's own: only knowing the refusal at
  // once lets these finish.
  it('the directory client says at once which addresses refused and what to check', async () => {
    const servers = await closedPorts(3);
    const client = new DirectoryClient({ servers, trust: FINGERPRINT, requestTimeout_ms: 120_000 });
    try {
      const err = await failure(client.call('challenge', { username: 'alice' }));
      expect(err.code).toBe('directory_unreachable');
      for (const s of servers)
        expect(err.message).toContain(`${s.host}:${s.port} (connection refused)`);
      expect(err.message).toMatch(/cloud is running/);
      expect(err.message).not.toMatch(/no reply/);
    } finally {
      client.close();
    }
  });

  it('the cloud client (encrypt) says so at once instead of retrying until its deadline', async () => {
    const servers = await closedPorts(2);
    const err = await failure(
      CloudClient.connect({
        clientId: 'unreachable-test',
        servers,
        trust: FINGERPRINT,
        connectTimeout_ms: 120_000,
      }),
    );
    expect(err.code).toBe('cloud_unreachable');
    for (const s of servers)
      expect(err.message).toContain(`${s.host}:${s.port} (connection refused)`);
    expect(err.message).not.toMatch(/no cloud server answered within/);
  });
});

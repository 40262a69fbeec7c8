/**
 * Start-up problems of a real server process: a TCP or HTTP port already in use is a clear
 * error and exit 2 (nothing left running), and a peer whose address does not resolve is a
 * warning naming it while the server starts anyway.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { LocalCluster } from '../../src/server/local-cluster.js';
import { packagePath } from '../../src/util/package-info.js';
import { eventually, fileChanges, requireBuild } from './helpers/cluster-fixture.js';

// Real processes on a shared, busy machine: generous limits (nothing waits on them).
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

const dirs: string[] = [];
const blockers: Server[] = [];

afterAll(async () => {
  for (const blocker of blockers) await new Promise((resolve) => blocker.close(resolve));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A port held by another listener for the rest of the file. */
async function occupiedPort(): Promise<number> {
  const blocker = createServer();
  blockers.push(blocker);
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const address = blocker.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Configs (and keys) for a two-server cloud; `endpoint` says where each one listens. */
async function twoServerCloud(
  endpoint: (id: number) => { host: string; port: number; httpPort: number },
): Promise<LocalCluster> {
  requireBuild();
  const dir = mkdtempSync(join(tmpdir(), 'cloudp2p-it-startup-'));
  dirs.push(dir);
  return LocalCluster.generate({ dir, size: 2, endpoints: endpoint });
}

/** Runs `cloudp2p server` for `configPath` until it exits; its code and output. */
function runUntilExit(configPath: string): Promise<{ code: number | null; output: string }> {
  const child = spawn(
    process.execPath,
    [packagePath('dist', 'cli', 'main.js'), 'server', '--config', configPath],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, output })));
}

describe('server start-up', () => {
  it('a TCP port in use is a clear error and exit 2', async () => {
    const taken = await occupiedPort();
    const httpPort = await freePort();
    const cloud = await twoServerCloud((id) => ({
      host: '127.0.0.1',
      port: id === 1 ? taken : taken + 1,
      httpPort: id === 1 ? httpPort : httpPort + 1,
    }));
    const { code, output } = await runUntilExit(cloud.member(1).configPath);
    expect(code).toBe(2);
    expect(output).toContain(`127.0.0.1:${taken}`);
    expect(output).toMatch(/in use/);
    expect(output).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('an HTTP port in use is a clear error and exit 2, with nothing left running', async () => {
    const port = await freePort();
    const takenHttp = await occupiedPort();
    const cloud = await twoServerCloud((id) => ({
      host: '127.0.0.1',
      port: id === 1 ? port : port + 1,
      httpPort: id === 1 ? takenHttp : takenHttp + 1,
    }));
    const { code, output } = await runUntilExit(cloud.member(1).configPath);
    expect(code).toBe(2);
    expect(output).toContain(`${takenHttp}`);
    expect(output).toMatch(/in use/);
    // The process exited (runUntilExit returned), and its TCP port is free again.
    const probe = createServer();
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen(port, '127.0.0.1', resolve);
    });
    await new Promise((resolve) => probe.close(resolve));
  });

  it('a peer address that does not resolve is a warning naming it; the server still leads', async () => {
    const port = await freePort();
    const httpPort = await freePort();
    const cloud = await twoServerCloud((id) =>
      id === 1
        ? { host: '127.0.0.1', port, httpPort }
        : { host: 'cloudp2p-typo.invalid', port: 7001, httpPort: 7002 },
    );
    try {
      cloud.start(1);
      await cloud.waitForLeader(60_000, [1]);
      const log = join(cloud.member(1).configPath, '..', 'logs', 'server-1.log');
      const warned = await eventually(
        () => {
          const text = readFileSync(log, 'utf8');
          return (
            text.includes('peer address does not resolve') &&
            text.includes('cloudp2p-typo.invalid:7001')
          );
        },
        30_000,
        [fileChanges(log)],
      );
      expect(warned, readFileSync(log, 'utf8')).toBe(true);
    } finally {
      await cloud.stopAll(5000);
    }
  });
});

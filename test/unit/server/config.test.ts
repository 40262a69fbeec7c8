import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadServerConfig } from '../../../src/server/config.js';
import { ConfigError } from '../../../src/util/config-reader.js';
import { packagePath } from '../../../src/util/package-info.js';

const dir = mkdtempSync(join(tmpdir(), 'cloudp2p-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const SEED_CONFIG = `
[server]
id = 1
address = "127.0.0.1:8001"

[peers]
peers = [
    { id = 2, address = "127.0.0.1:8002" },
    { id = 3, address = "127.0.0.1:8003" }
]

[election]
heartbeat_interval_secs = 1      # Send heartbeat every 1 second
election_timeout_secs = 2        # Wait 2 seconds for election responses
failure_timeout_secs = 3         # Consider peer failed after 3 seconds
monitor_interval_secs = 1        # Check for failures every 1 second

[encryption]
thread_pool_size = 4             # Number of worker threads
max_queue_size = 100             # Maximum queued tasks
`;

function expectConfigError(text: string, pattern: RegExp): void {
  const path = write(`bad-${Math.random().toString(36).slice(2)}.toml`, text);
  expect(() => loadServerConfig(path)).toThrow(ConfigError);
  expect(() => loadServerConfig(path)).toThrow(pattern);
}

describe('server config', () => {
  it('reads the seed CloudP2P config unchanged, turning seconds into milliseconds', () => {
    const config = loadServerConfig(write('seed.toml', SEED_CONFIG));
    expect(config.id).toBe(1);
    expect(config.address).toEqual({ host: '127.0.0.1', port: 8001 });
    expect(config.http_address).toEqual({ host: '127.0.0.1', port: 9001 });
    expect(config.peers.map((p) => p.id)).toEqual([2, 3]);
    expect(config.election).toMatchObject({
      heartbeat_interval_ms: 1000,
      election_timeout_ms: 2000,
      failure_timeout_ms: 3000,
      monitor_interval_ms: 1000,
    });
    expect(config.encryption).toMatchObject({ thread_pool_size: 4, max_queue_size: 100 });
    expect(config.failure_simulation.enabled).toBe(false);
  });

  it('loads every shipped config/serverN.toml with fractional seconds', () => {
    for (const n of [1, 2, 3]) {
      const config = loadServerConfig(packagePath('config', `server${n}.toml`));
      expect(config.id).toBe(n);
      expect(config.election.heartbeat_interval_ms).toBe(250);
      expect(config.directory.url).toBe(`sqlite:${packagePath('.cloudp2p', 'directory.sqlite')}`);
    }
  });

  it('lets a flag switch the failure simulation on', () => {
    expect(
      loadServerConfig(write('fs.toml', SEED_CONFIG), { failureSimulation: true })
        .failure_simulation.enabled,
    ).toBe(true);
  });

  it('names the file, key and allowed values in every error', () => {
    expectConfigError('[peers]\n', /missing required table \[server\]/);
    expectConfigError('[server]\nid = 1\n', /server\.address: missing required key/);
    expectConfigError(
      '[server]\nid = 0\naddress = "127.0.0.1:1"\n',
      /server\.id: 0 is out of range; allowed 1\.\.999/,
    );
    expectConfigError(
      '[server]\nid = 1\naddress = "localhost"\n',
      /has no port; expected host:port/,
    );
    expectConfigError(
      '[server]\nid = 1\naddress = "h:1"\nidd = 2\n',
      /unknown key "idd" in \[server\]/,
    );
    expectConfigError(
      '[server]\nid = 1\naddress = "h:1"\n[electon]\n',
      /unknown key "electon" in the top level/,
    );
    expectConfigError(
      '[server]\nid = "one"\naddress = "h:1"\n',
      /expected a number, got string "one"/,
    );
    expectConfigError('[server\nid = 1', /not valid TOML/);
  });

  it('refuses duplicate server ids and addresses', () => {
    expectConfigError(
      '[server]\nid = 1\naddress = "h:1"\n[peers]\npeers = [{ id = 1, address = "h:2" }]\n',
      /server id 1 appears twice/,
    );
    expectConfigError(
      '[server]\nid = 1\naddress = "h:1"\n[peers]\npeers = [{ id = 2, address = "h:1" }]\n',
      /servers 1 and 2 both use address h:1/,
    );
  });

  it('refuses a failure timeout shorter than two heartbeats', () => {
    expectConfigError(
      '[server]\nid = 1\naddress = "h:1"\n[election]\nheartbeat_interval_secs = 1\nfailure_timeout_secs = 1.5\n',
      /must be at least 3 x heartbeat_interval_ms/,
    );
  });

  it('says when the file is missing', () => {
    expect(() => loadServerConfig(join(dir, 'nope.toml'))).toThrow(
      /cannot read config: file not found/,
    );
  });
});

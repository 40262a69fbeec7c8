import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateIdentity } from '../../../src/identity/keys.js';
import { AgentDatabase } from '../../../src/peer/agent-db.js';
import { DataDir, readFileLimited, writeFileAtomic } from '../../../src/peer/data-dir.js';
import { modesNotPrivate } from '../../helpers/file-modes.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'peer-datadir-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const identity = {
  username: 'alice',
  user_id: '11111111-2222-4333-8444-555555555555',
  keys: generateIdentity(),
};

describe('data directory', () => {
  it('writes files atomically, leaving no temporary file behind', () => {
    const path = join(root, 'a', 'file.bin');
    writeFileAtomic(path, new Uint8Array([1, 2, 3]));
    writeFileAtomic(path, 'replaced');
    expect(readFileSync(path, 'utf8')).toBe('replaced');
    expect(readdirSync(join(root, 'a'))).toEqual(['file.bin']);
  });

  it('writes every file private to the user, in private folders, whatever the umask', () => {
    const before = process.umask(0o022);
    try {
      const dir = new DataDir(join(root, 'alice'));
      dir.writeIdentity(identity);
      dir.writeSettings({ servers: [{ host: '127.0.0.1', port: 8001 }], cluster_id: 1 });
      writeFileAtomic(dir.path('received', 'owner-id', 'img.png'), new Uint8Array([1]));
      const db = new AgentDatabase(dir.databasePath);
      db.pinKey({ user_id: 'u', username: 'bob', public_key: new Uint8Array(32) }); // a WAL write
      expect(existsSync(`${dir.databasePath}-wal`)).toBe(true);
      expect(existsSync(`${dir.databasePath}-shm`)).toBe(true);
      expect(modesNotPrivate(dir.root)).toEqual([]);
      db.close();
    } finally {
      process.umask(before);
    }
  });

  it('repairs the modes an older version left (0644 files, 0755 folders) when opened', () => {
    const dir = new DataDir(join(root, 'bob'));
    dir.writeIdentity(identity);
    const db = new AgentDatabase(dir.databasePath);
    db.pinKey({ user_id: 'u', username: 'bob', public_key: new Uint8Array(32) });
    mkdirSync(dir.path('received', 'owner-id'), { recursive: true });
    for (const file of ['agent.log', 'config.json', 'received/owner-id/img.png'])
      writeFileSync(dir.path(file), 'x');
    const walk = (path: string): void => {
      chmodSync(path, statSync(path).isDirectory() ? 0o755 : 0o644);
      if (statSync(path).isDirectory())
        for (const name of readdirSync(path)) walk(join(path, name));
    };
    walk(dir.root);
    const open = modesNotPrivate(dir.root);
    expect(open).toContainEqual(`${dir.databasePath}-wal 644`);
    expect(open.length).toBeGreaterThan(8);
    dir.securePermissions(); // what opening an agent does
    expect(modesNotPrivate(dir.root)).toEqual([]);
    db.close();
    // The database alone (its -wal and -shm too) is repaired when it is opened.
    chmodSync(dir.databasePath, 0o644);
    const reopened = new AgentDatabase(dir.databasePath);
    reopened.pinKey({ user_id: 'v', username: 'carol', public_key: new Uint8Array(32) });
    expect(modesNotPrivate(dir.root)).toEqual([]);
    reopened.close();
  });

  it('reads a limited file with a clear error', () => {
    writeFileSync(join(root, 'big'), Buffer.alloc(100));
    expect(readFileLimited(join(root, 'big'), 100, 'image')).toHaveLength(100);
    expect(() => readFileLimited(join(root, 'big'), 99, 'image')).toThrow(/100 bytes; at most 99/);
    expect(() => readFileLimited(join(root, 'none'), 99, 'image')).toThrow(/cannot read the image/);
  });

  it('keeps the identity private and reads it back', () => {
    const dir = new DataDir(root);
    expect(dir.hasIdentity()).toBe(false);
    expect(() => dir.readIdentity()).toThrow(/peer register/);
    dir.writeIdentity(identity);
    expect(statSync(dir.identityPath).mode & 0o777).toBe(0o600);
    const back = dir.readIdentity();
    expect(back.username).toBe('alice');
    expect(back.keys.publicKey).toEqual(identity.keys.publicKey);
  });

  it('refuses an identity file that was edited', () => {
    const dir = new DataDir(root);
    dir.writeIdentity(identity);
    const value = JSON.parse(readFileSync(dir.identityPath, 'utf8'));
    writeFileSync(dir.identityPath, JSON.stringify({ ...value, public_key: '00'.repeat(32) }));
    expect(() => dir.readIdentity()).toThrow(/does not belong to the seed/);
    writeFileSync(dir.identityPath, '{not json');
    expect(() => dir.readIdentity()).toThrow(/not valid JSON/);
    writeFileSync(dir.identityPath, JSON.stringify({ ...value, username: 'Bad Name' }));
    expect(() => dir.readIdentity()).toThrow(/username/);
  });

  it('validates saved settings', () => {
    const dir = new DataDir(root);
    expect(dir.readSettings()).toBeUndefined();
    dir.writeSettings({ servers: [{ host: '127.0.0.1', port: 8001 }], cluster_id: 1 });
    expect(dir.readSettings()?.servers).toEqual([{ host: '127.0.0.1', port: 8001 }]);
    writeFileSync(dir.configPath, JSON.stringify({ servers: [{ host: 'x', port: 70000 }] }));
    expect(() => dir.readSettings()).toThrow(/port 1..65535/);
  });

  it('names the key and what it must be when a saved file was edited by hand', () => {
    const dir = new DataDir(root);
    dir.writeIdentity(identity);
    const value = JSON.parse(readFileSync(dir.identityPath, 'utf8'));
    writeFileSync(dir.identityPath, JSON.stringify({ ...value, user_id: 'ALICE' }));
    expect(() => dir.readIdentity()).toThrow(
      /identity\.json: user_id must be a lowercase UUID like .*; restore it or register again/,
    );
    writeFileSync(dir.identityPath, JSON.stringify({ ...value, seed: undefined }));
    expect(() => dir.readIdentity()).toThrow(/seed must be 64 lowercase hex characters/);
    const servers = [{ host: '127.0.0.1', port: 8001 }];
    writeFileSync(dir.configPath, JSON.stringify({ servers, cluster_id: 0 }));
    expect(() => dir.readSettings()).toThrow(/config\.json: cluster_id must be a positive integer/);
    writeFileSync(dir.configPath, JSON.stringify({ servers: [] }));
    expect(() => dir.readSettings()).toThrow(/servers must be a list of 1\.\.64 items/);
    writeFileSync(dir.configPath, JSON.stringify({ servers, newer_key: 1 }));
    expect(dir.readSettings()).toEqual({ servers, cluster_id: 1 });
  });

  it('lets one agent hold the lock, and takes over a lock left by a dead process', () => {
    const dir = new DataDir(root);
    const release = dir.acquireLock();
    expect(existsSync(dir.lockPath)).toBe(true);
    release();
    expect(existsSync(dir.lockPath)).toBe(false);
    writeFileSync(dir.lockPath, '999999999\n'); // no such process
    const again = dir.acquireLock();
    expect(readFileSync(dir.lockPath, 'utf8').trim()).toBe(String(process.pid));
    again();
    writeFileSync(dir.lockPath, `${process.ppid}\n`); // alive: the test runner's parent
    expect(() => dir.acquireLock()).toThrow(/already runs/);
  });

  it('ignores an agent.json that is not one', () => {
    const dir = new DataDir(root);
    dir.ensure();
    writeFileSync(dir.agentInfoPath, JSON.stringify({ pid: 'x' }));
    expect(dir.readAgentInfo()).toBeUndefined();
    dir.writeAgentInfo({
      pid: process.pid,
      api: { host: '127.0.0.1', port: 4000 },
      token: 'f'.repeat(64),
      p2p: { host: '127.0.0.1', port: 4001 },
      started_at_ms: 1,
    });
    expect(dir.readAgentInfo()?.api.port).toBe(4000);
    expect(statSync(dir.agentInfoPath).mode & 0o777).toBe(0o600);
    const info = JSON.parse(readFileSync(dir.agentInfoPath, 'utf8'));
    for (const edited of [
      { ...info, api: { host: '127.0.0.1', port: 70_000 } },
      { ...info, token: 'F'.repeat(64) },
      { ...info, pid: 0 },
    ]) {
      writeFileSync(dir.agentInfoPath, JSON.stringify(edited));
      expect(dir.readAgentInfo()).toBeUndefined();
    }
    // What only describes the agent (its P2P address, its start) does not make it unreadable.
    writeFileSync(dir.agentInfoPath, JSON.stringify({ ...info, p2p: 'x', started_at_ms: 'y' }));
    expect(dir.readAgentInfo()).toMatchObject({ p2p: null, started_at_ms: 0 });
  });
});

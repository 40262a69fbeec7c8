import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentDatabase } from '../../../src/peer/agent-db.js';

let dir: string;
let db: AgentDatabase;
const key = { owner_id: 'o1', image_id: 'img', owner_username: 'alice' };

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'agent-db-'));
  db = new AgentDatabase(join(dir, 'agent.sqlite'));
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('agent database ledger', () => {
  it('takes a grant only when its version is newer, and never lowers consumed', () => {
    db.mergeLedger(key, { version: 2, quota: 5, revoked: false }, 3);
    let row = db.mergeLedger(key, { version: 1, quota: 50, revoked: false }, 0);
    expect(row).toMatchObject({ version: 2, quota: 5, consumed: 3, revoked: false });
    row = db.mergeLedger(key, { version: 3, quota: 4, revoked: true }, 1);
    expect(row).toMatchObject({ version: 3, quota: 4, consumed: 3, revoked: true });
    row = db.mergeLedger(key, null, 4);
    expect(row).toMatchObject({ version: 3, quota: 4, consumed: 4 });
  });

  it('uses views offline only within the allowance since the directory last confirmed the count', () => {
    let now_ms = 1_000_000;
    const clocked = new AgentDatabase(join(dir, 'clocked.sqlite'), () => now_ms);
    const allowance = { views: 2, window_ms: 60_000 };
    const offline = () => clocked.consumeOfflineView('o1', 'img', allowance);
    try {
      clocked.mergeLedger(key, { version: 1, quota: 4, revoked: false });
      expect(offline()).toBeNull(); // never confirmed online on this agent: nothing
      clocked.markOnline('o1', 'img');
      expect(offline()).toMatchObject({ consumed: 1, offline_used: 1, online_at_ms: now_ms });
      expect(offline()).toMatchObject({ consumed: 2, offline_used: 2 });
      expect(offline()).toBeNull(); // the allowance is used until the next confirmation
      now_ms += 1000;
      clocked.markOnline('o1', 'img');
      expect(clocked.ledger('o1', 'img')).toMatchObject({ consumed: 2, offline_used: 0 });
      now_ms += 59_999;
      expect(offline()).toMatchObject({ consumed: 3, offline_used: 1 });
      now_ms += 1; // the window since the confirmation is over
      expect(offline()).toBeNull();
      clocked.markOnline('o1', 'img');
      now_ms -= 10; // a clock set back before the confirmation gains nothing
      expect(offline()).toBeNull();
      now_ms += 10;
      expect(offline()).toMatchObject({ consumed: 4 });
      clocked.markOnline('o1', 'img');
      expect(offline()).toBeNull(); // the quota is used
      clocked.mergeLedger(key, { version: 2, quota: 10, revoked: true });
      expect(offline()).toBeNull(); // revoked
      expect(clocked.consumeOfflineView('nobody', 'img', allowance)).toBeNull();
    } finally {
      clocked.close();
    }
  });

  it('keeps copies: the grant moves forward only, deliveries are recorded', () => {
    db.putCopy({
      image_id: 'img',
      viewer_id: 'v1',
      viewer_username: 'bob',
      copy_version: 1,
      image_digest: new Uint8Array(32).fill(1),
      copy_size_bytes: 1000,
      copy_sha256: 'ab'.repeat(32),
      grant_version: 1,
      quota: 3,
      revoked: false,
      copy_delivered: false,
      rights_delivered_version: 0,
      offline: { views: 2, window_ms: 3_600_000 },
    });
    expect(db.copy('img', 'v1')?.offline).toEqual({ views: 2, window_ms: 3_600_000 });
    expect(db.undeliveredCopies()).toHaveLength(1);
    db.markCopyDelivered('img', 'v1', 1);
    expect(db.undeliveredCopies()).toHaveLength(0);
    db.updateCopyGrant('img', 'v1', { version: 3, quota: 7, revoked: false });
    db.updateCopyGrant('img', 'v1', { version: 2, quota: 1, revoked: true }); // stale: ignored
    expect(db.copy('img', 'v1')).toMatchObject({ grant_version: 3, quota: 7, revoked: false });
    expect(db.undeliveredCopies()).toHaveLength(1);
    db.markRightsDelivered('img', 'v1', 3);
    expect(db.undeliveredCopies()).toHaveLength(0);
    expect(db.copy('img', 'v1')?.image_digest).toEqual(new Uint8Array(32).fill(1));
  });

  it('pins a key once per user', () => {
    db.pinKey({ user_id: 'u1', username: 'bob', public_key: new Uint8Array(32).fill(2) });
    db.pinKey({ user_id: 'u1', username: 'bob', public_key: new Uint8Array(32).fill(9) });
    expect(db.keyById('u1')?.public_key).toEqual(new Uint8Array(32).fill(2));
    expect(db.keyByUsername('bob')?.user_id).toBe('u1');
  });

  it('keeps a pending view id across reopening; a stored value that is not a UUID is none', () => {
    db.mergeLedger(key, { version: 1, quota: 2, revoked: false });
    expect(db.pendingView('o1', 'img')).toBeNull();
    const id = '0b9a6f4e-2f55-4c1e-9d0a-3c8e1f2a7b64';
    db.setPendingView('o1', 'img', id);
    db.close();
    db = new AgentDatabase(join(dir, 'agent.sqlite'));
    expect(db.pendingView('o1', 'img')).toBe(id);
    db.setPendingView('o1', 'img', null);
    expect(db.pendingView('o1', 'img')).toBeNull();
    expect(() => db.setPendingView('o1', 'img', 'not-a-uuid')).toThrow(/must be a UUID/);
    db.close();
    const raw = new Database(join(dir, 'agent.sqlite'));
    raw.prepare("UPDATE ledger SET pending_view_id = 'x; DROP TABLE ledger'").run();
    raw.close();
    db = new AgentDatabase(join(dir, 'agent.sqlite'));
    expect(db.pendingView('o1', 'img')).toBeNull();
  });

  it('survives reopening, and refuses rows that were edited by hand', () => {
    db.mergeLedger(key, { version: 1, quota: 2, revoked: false });
    db.close();
    const raw = new Database(join(dir, 'agent.sqlite'));
    raw.prepare("UPDATE ledger SET consumed = 'lots'").run();
    raw.close();
    db = new AgentDatabase(join(dir, 'agent.sqlite'));
    expect(() => db.ledger('o1', 'img')).toThrow(/ledger has an invalid consumed/);
  });

  it('refuses a database written by a newer version', () => {
    db.close();
    const raw = new Database(join(dir, 'agent.sqlite'));
    raw.pragma('user_version = 99');
    raw.close();
    expect(() => new AgentDatabase(join(dir, 'agent.sqlite'))).toThrow(/schema version 99/);
    db = new AgentDatabase(join(dir, 'other.sqlite'));
  });
});

/**
 * View limits against a viewer who controls his own machine (issue 11), with real agents and
 * three real servers: online every view is used at the directory first, and offline only the
 * owner's signed allowance is usable — also after restoring a backup of the data directory or
 * deleting agent.sqlite. Two devices of one user viewing at once never pass the grant.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PeerAgent } from '../../src/peer/agent.js';
import { DataDir } from '../../src/peer/data-dir.js';
import { createLogger } from '../../src/util/log.js';
import { freePort } from '../helpers/p2p-wire.js';
import { TEST_TIMEOUT_MS } from './helpers/cluster-fixture.js';
import {
  COVER,
  PHOTO,
  agentFor,
  dataDirOf,
  eventOf,
  startPeerWorld,
  type PeerWorld,
} from './peer-fixture.js';

let world: PeerWorld;
let alice: PeerAgent;
/** A port nothing listens on: an agent given only this server is offline. */
let deadServer: { host: string; port: number };

beforeAll(async () => {
  world = await startPeerWorld();
  alice = await agentFor(world, 'alice');
  deadServer = { host: '127.0.0.1', port: await freePort() };
}, TEST_TIMEOUT_MS);
afterAll(async () => {
  await world?.cleanup();
}, 60_000);

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));

/** A one-shot agent on `root` (a data directory of bob's), online or with no reachable cloud. */
function device(root: string, online: boolean): PeerAgent {
  const agent = PeerAgent.open({
    dataDir: new DataDir(root),
    mode: 'one-shot',
    ...(online ? {} : { servers: [deadServer] }),
    logger: createLogger('peer/bob-device', { level: 'error' }),
  });
  world.agents.push(agent);
  return agent;
}

/** `viewer` asks alice for a new image with `views`; alice accepts; the copy arrives. */
async function sharedWith(viewer: string, views: number): Promise<string> {
  const agent = await agentFor(world, viewer);
  const imageId = (await alice.encrypt(PHOTO, `For ${viewer}`)).image.image_id;
  const created = await agent.request('alice', imageId, views);
  await eventOf(alice, 'request-received', (e) => e.request.image_id === imageId);
  const answer = await alice.answer(created.request.request_id, 'accepted');
  // The default allowance, signed into the copy and shown to the owner.
  expect(answer.grant?.offline).toEqual({ views: 1, window_ms: 24 * 3_600_000 });
  await eventOf(agent, 'image-received', (e) => e.image_id === imageId);
  await agent.sync(); // the directory confirms the count: the offline window starts
  const [held] = agent.received().filter((r) => r.image_id === imageId);
  expect(held).toMatchObject({ offline: { views: 1, window_ms: 86_400_000 }, offline_used: 0 });
  expect(held?.offline_until_ms).toBeGreaterThan(Date.now());
  await agent.stop('test: signs out');
  return imageId;
}

describe('a viewer with full control of his machine', () => {
  it('gets at most the offline allowance back from a restored backup, then the default image', async () => {
    const imageId = await sharedWith('bob', 3);
    const bobDir = dataDirOf(world, 'bob').root;
    const backup = join(world.dir, 'bob-backup');
    cpSync(bobDir, backup, { recursive: true });

    // Online: three views, used at the directory, then the default image.
    const online = device(bobDir, true);
    const verdicts = [];
    for (let i = 0; i < 4; i++) verdicts.push((await online.view('alice', imageId)).record);
    expect(verdicts.map((v) => v.verdict)).toEqual(['shown', 'shown', 'shown', 'default']);
    expect(verdicts[3]).toMatchObject({ reason: 'quota_used', views_left: 0 });
    await online.stop();

    // Restore the backup (0 of 3 used in it) and view with no cloud reachable.
    rmSync(bobDir, { recursive: true, force: true });
    cpSync(backup, bobDir, { recursive: true });
    const offline = device(bobDir, false);
    const replay = [];
    for (let i = 0; i < 3; i++) replay.push(await offline.view('alice', imageId));
    const shown = replay.filter((v) => v.record.verdict === 'shown');
    expect(shown.length).toBeLessThanOrEqual(1); // the allowance, not the three in the backup
    expect(shown.every((v) => same(v.image, PHOTO))).toBe(true);
    const refused = replay.filter((v) => v.record.verdict === 'default');
    expect(refused.length).toBeGreaterThanOrEqual(2);
    for (const view of refused) {
      expect(view.record.reason).toBe('offline_used');
      expect(view.record.message).toMatch(/cannot be reached .* 1 offline view the owner allows/);
      expect(same(view.image, COVER)).toBe(true);
    }
    await offline.stop();
  });

  it('sees nothing offline after deleting agent.sqlite, even with an older copy in hand', async () => {
    const imageId = await sharedWith('dave', 2);
    const daveDir = dataDirOf(world, 'dave');
    const olderCopy = readFileSync(
      daveDir.path('received', alice.identity.user_id, `${imageId}.png`),
    );
    for (const suffix of ['', '-wal', '-shm'])
      rmSync(`${daveDir.databasePath}${suffix}`, { force: true });
    const offline = device(daveDir.root, false);
    for (const view of [await offline.viewFile(olderCopy), await offline.viewFile(olderCopy)]) {
      expect(view.record).toMatchObject({ verdict: 'default', reason: 'not_synced' });
      expect(view.record.message).toMatch(/cannot be reached/);
      expect(same(view.image, COVER)).toBe(true);
    }
    await offline.stop();
  });

  it('never passes the grant with two devices viewing at once', async () => {
    const imageId = await sharedWith('erin', 3);
    const phone = join(world.dir, 'erin-phone');
    mkdirSync(phone, { recursive: true });
    cpSync(dataDirOf(world, 'erin').root, phone, { recursive: true });
    expect(existsSync(join(phone, 'identity.json'))).toBe(true);
    const laptop = device(dataDirOf(world, 'erin').root, true);
    const other = device(phone, true);
    // Each device asks for all three views at once, interleaved.
    const views = await Promise.all(
      [laptop, other, laptop, other, laptop, other].map((agent) => agent.view('alice', imageId)),
    );
    const shown = views.filter((v) => v.record.verdict === 'shown');
    expect(shown).toHaveLength(3);
    expect(shown.every((v) => same(v.image, PHOTO))).toBe(true);
    expect(
      views
        .filter((v) => v.record.verdict === 'default')
        .every((v) => v.record.reason === 'quota_used'),
    ).toBe(true);
    await Promise.all([laptop.stop(), other.stop()]);
  });
});

/**
 * The real `cloudp2p peer` binary end to end: agents run as background processes (`peer
 * login`), every other command talks to them through their local API or runs one-shot, and
 * exit codes are what scripts rely on. A killed agent drops offline by the presence TTL.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataDir, processAlive } from '../../src/peer/data-dir.js';
import { packagePath } from '../../src/util/package-info.js';
import { modesNotPrivate } from '../helpers/file-modes.js';
import { COVER, PHOTO, startPeerWorld, until, type PeerWorld } from './peer-fixture.js';
import { TEST_TIMEOUT_MS } from './helpers/cluster-fixture.js';

let world: PeerWorld;
const CLI = packagePath('dist', 'cli', 'main.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(user: string, args: string[], timeout_ms = 60_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [CLI, 'peer', '--data-dir', join(world.dir, user), ...args],
      {
        cwd: world.dir,
        env: {
          ...process.env,
          CLOUDP2P_SERVERS: world.servers.map((s) => `${s.host}:${s.port}`).join(','),
          LOG_LEVEL: 'warn',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`cloudp2p peer ${args.join(' ')} timed out; stderr: ${stderr}`));
    }, timeout_ms);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function json<T>(run: Run): T {
  if (run.code !== 0) throw new Error(`exit ${run.code}: ${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}
const agentPid = (user: string): number | undefined =>
  new DataDir(join(world.dir, user)).readAgentInfo()?.pid;

beforeAll(async () => {
  world = await startPeerWorld();
}, TEST_TIMEOUT_MS);

afterAll(async () => {
  for (const user of ['alice', 'bob', 'carol']) {
    const pid = world ? agentPid(user) : undefined;
    if (pid && processAlive(pid)) process.kill(pid, 'SIGTERM');
  }
  await world?.cleanup();
}, TEST_TIMEOUT_MS);

// Each step spawns several CLI processes; on a machine busy with other work one takes seconds.
describe('cloudp2p peer (the real binary)', { timeout: 180_000 }, () => {
  let imageId: string;

  it('registers users and refuses bad arguments with exit code 2', async () => {
    for (const user of ['alice', 'bob', 'carol']) {
      const run = await cli(user, ['register', user]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toMatch(new RegExp(`registered ${user}: user id [0-9a-f-]{36}`));
    }
    expect((await cli('alice', ['register', 'alice'])).code).toBe(2);
    expect((await cli('dave', ['register', 'Not Valid'])).code).toBe(2);
    expect((await cli('bob', ['request', 'alice', 'img', '--views', '0'])).code).toBe(2);
    expect((await cli('bob', ['view', 'no-slash'])).code).toBe(2);
    expect((await cli('bob', ['accept', 'not-a-uuid'])).code).toBe(2);
  });

  it('signs in as background agents (use case 2)', async () => {
    for (const user of ['alice', 'bob']) {
      const run = await cli(user, ['login']);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/signed in; the agent runs in the background/);
      expect(processAlive(agentPid(user) as number)).toBe(true);
    }
    const status = json<{ online: boolean; mode: string }>(
      await cli('alice', ['--json', 'status']),
    );
    expect(status).toMatchObject({ online: true, mode: 'running' });
    // agent.log (written by the background agent), agent.json, the database: the user's only.
    for (const user of ['alice', 'bob']) {
      expect(existsSync(join(world.dir, user, 'agent.log'))).toBe(true);
      expect(modesNotPrivate(join(world.dir, user))).toEqual([]);
    }
  });

  it('encrypts with progress lines, lists peers and fetches previews (use cases 3, 4)', async () => {
    const photo = join(world.dir, 'photo.jpg');
    writeFileSync(photo, PHOTO);
    const run = await cli('alice', [
      'encrypt',
      photo,
      '--title',
      'Holiday',
      '-o',
      'alice.stego.png',
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/assigned to server \d/);
    expect(run.stderr, run.stderr).toMatch(/offered in the directory/);
    imageId = /image (\S+) "Holiday"/.exec(run.stdout)?.[1] as string;
    expect(imageId).toBeTruthy();
    expect(existsSync(join(world.dir, 'alice.stego.png'))).toBe(true);
    const peers = json<Array<{ username: string; images: Array<{ image_id: string }> }>>(
      await cli('bob', ['--json', 'peers']),
    );
    expect(peers.find((p) => p.username === 'alice')?.images[0]?.image_id).toBe(imageId);
    const previews = await cli('bob', ['previews', 'alice', '--out', world.dir]);
    expect(previews.code, previews.stderr).toBe(0);
    const preview = readFileSync(join(world.dir, `alice-${imageId}.preview.jpg`));
    expect(preview[0]).toBe(0xff);
  });

  it('requests, accepts, views until the default image (use cases 5, 6, 7)', async () => {
    const created = json<{ request: { request_id: string } }>(
      await cli('bob', ['--json', 'request', 'alice', imageId, '--views', '1']),
    );
    const inbox = await cli('alice', ['inbox']);
    expect(inbox.stdout).toContain(created.request.request_id);
    const accepted = await cli('alice', ['accept', created.request.request_id]);
    expect(accepted.code, accepted.stderr).toBe(0);
    // Making bob's copy goes through the cloud: each step is shown as it happens.
    expect(accepted.stderr).toMatch(/accepted in the directory/);
    expect(accepted.stderr).toMatch(/bob's copy sealed and signed; sending \d+ bytes to the cloud/);
    expect(accepted.stderr).toMatch(/assigned to server \d/);
    expect(accepted.stderr).toMatch(/hidden by server \d in \d+ ms; checked/);
    expect(accepted.stderr).toMatch(
      /bob (has the copy and the rights|gets it when both agents are online)/,
    );
    await until(
      world,
      'bob to hold the copy',
      async () =>
        json<Array<{ state: string }>>(await cli('bob', ['--json', 'images']))[0]?.state ===
        'viewable',
    );
    const view = await cli('bob', ['view', `alice/${imageId}`, '-o', 'seen.jpg']);
    expect(view.code, view.stderr).toBe(0);
    expect(readFileSync(join(world.dir, 'seen.jpg')).equals(Buffer.from(PHOTO))).toBe(true);
    // The image written out is as secret as the copy: private to the user.
    expect(statSync(join(world.dir, 'seen.jpg')).mode & 0o777).toBe(0o600);
    expect(modesNotPrivate(join(world.dir, 'bob'))).toEqual([]);
    const spent = await cli('bob', ['view', `alice/${imageId}`, '-o', 'spent.png']);
    expect(spent.code).toBe(7);
    expect(spent.stderr).toMatch(/used the only view of/);
    // The default image never takes the name asked for the real one.
    expect(existsSync(join(world.dir, 'spent.png'))).toBe(false);
    expect(readFileSync(join(world.dir, 'spent.default.png')).equals(Buffer.from(COVER))).toBe(
      true,
    );
  });

  it('shows the default image to a user not named, one-shot without an agent (exit 7)', async () => {
    const bobsCopy = join(
      world.dir,
      'bob',
      'received',
      new DataDir(join(world.dir, 'alice')).readIdentity().user_id,
      `${imageId}.png`,
    );
    const run = await cli('carol', ['view', '--file', bobsCopy, '-o', 'carol.png']);
    expect(run.code).toBe(7);
    expect(run.stderr).toMatch(/made for bob, not for carol/);
  });

  it('changes a quota and asks for more views (use cases 8, 9)', async () => {
    const set = await cli('alice', ['set-quota', imageId, 'bob', '3']);
    expect(set.code, set.stderr).toBe(0);
    await until(
      world,
      'bob to see 2 views left',
      async () =>
        json<Array<{ views_left: number }>>(await cli('bob', ['--json', 'images']))[0]
          ?.views_left === 2,
    );
    const more = await cli('bob', ['more-views', `alice/${imageId}`, '--views', '2']);
    expect(more.code, more.stderr).toBe(0);
    expect(more.stdout).toMatch(/more_views/);
    const revoked = await cli('alice', ['revoke', imageId, 'bob']);
    expect(revoked.code, revoked.stderr).toBe(0);
    await until(
      world,
      'bob to see the revocation',
      async () =>
        json<Array<{ state: string }>>(await cli('bob', ['--json', 'images']))[0]?.state ===
        'revoked',
    );
    expect((await cli('bob', ['view', `alice/${imageId}`, '-o', 'r.png'])).code).toBe(7);
  });

  it('login says what others changed while the user was away (use case 2)', async () => {
    const out = await cli('bob', ['logout']);
    expect(out.code, out.stderr).toBe(0);
    // Alice allows bob again while he is signed out: the change waits in the directory.
    const set = await cli('alice', ['set-quota', imageId, 'bob', '4']);
    expect(set.code, set.stderr).toBe(0);
    const login = await cli('bob', ['login']);
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toMatch(/while you were away \(1 change, applied now\):/);
    expect(login.stdout).toContain(`alice changed your views of ${imageId}: 4 views in total`);
    const status = json<{ away: Array<{ kind: string; user: string }> }>(
      await cli('bob', ['--json', 'status']),
    );
    expect(status.away).toEqual([
      expect.objectContaining({ kind: 'grant_changed', user: 'alice' }),
    ]);
    // Nothing new the next time.
    expect((await cli('bob', ['logout'])).code).toBe(0);
    const again = await cli('bob', ['login']);
    expect(again.stdout).toContain('nothing changed for you while you were away');
  });

  it('a crashed agent drops offline by the presence TTL; logout stops an agent (use case 10)', async () => {
    const alicePid = agentPid('alice') as number;
    process.kill(alicePid, 'SIGKILL');
    await until(
      world,
      'alice to drop offline',
      async () =>
        !json<Array<{ username: string }>>(await cli('bob', ['--json', 'peers'])).some(
          (p) => p.username === 'alice',
        ),
      30_000,
    );
    const bobPid = agentPid('bob') as number;
    const out = await cli('bob', ['logout']);
    expect(out.code, out.stderr).toBe(0);
    await until(world, 'bob’s agent to exit', () => !processAlive(bobPid));
    expect(agentPid('bob')).toBeUndefined();
  }, 60_000);
});

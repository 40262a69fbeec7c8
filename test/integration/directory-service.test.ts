/**
 * The directory of service through real server processes sharing one SQLite file: register
 * with proof of key, challenge sign-in at one server answered at another, signed requests,
 * and hostile inputs (replayed or forged signatures, skewed clocks, wrong users, garbage args).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateIdentity, sign } from '../../src/identity/keys.js';
import { DirectoryClient } from '../../src/peer/directory-client.js';
import { createCloudCodec, type CloudMessage } from '../../src/protocol/cloud-protocol.js';
import {
  signedRequestBytes,
  toHex,
  type DirectoryRequestMessage,
} from '../../src/protocol/directory-protocol.js';
import { MessageLink } from '../../src/transport/message-link.js';
import {
  TEST_TIMEOUT_MS,
  DEADLINE,
  clientSecurityOf,
  serversOf,
  startTestCluster,
  type TestCluster,
} from './helpers/cluster-fixture.js';

let tc: TestCluster;

beforeAll(async () => {
  tc = await startTestCluster({ size: 3, directoryUrl: 'sqlite:directory.sqlite' });
  await tc.cluster.waitForLeader(DEADLINE.start_ms);
}, TEST_TIMEOUT_MS);

afterAll(async () => {
  await tc?.cleanup();
});

function client(servers = serversOf(tc.cluster)): DirectoryClient {
  return new DirectoryClient({ servers, requestTimeout_ms: 2000, trust: tc.cluster.clientTrust });
}

/** Sends a hand-made DirectoryRequest to one server and returns the response message. */
async function raw(message: DirectoryRequestMessage, server = 0): Promise<CloudMessage> {
  const endpoint = serversOf(tc.cluster)[server] as { host: string; port: number };
  const link = new MessageLink<CloudMessage>(
    {
      ...endpoint,
      codec: createCloudCodec(),
      clusterId: 1,
      limits: { maxBodyBytes: 1 << 20, maxMetaBytes: 1 << 20 },
      security: clientSecurityOf(tc.cluster),
      connectTimeout_ms: 1000,
    },
    { onMessage: () => undefined },
  );
  try {
    return (await link.request(message, 3000)).message;
  } finally {
    link.close();
  }
}

function signed(
  userId: string,
  keys: ReturnType<typeof generateIdentity>,
  op: DirectoryRequestMessage['op'],
  args: Record<string, unknown>,
  timestamp_ms = Date.now(),
): DirectoryRequestMessage {
  const unsigned = { user_id: userId, timestamp_ms, nonce: randomBytes(32).toString('hex') };
  return {
    type: 'DirectoryRequest',
    op,
    args,
    auth: { ...unsigned, signature: toHex(sign(keys, signedRequestBytes(1, op, args, unsigned))) },
  };
}

describe('directory service on real servers', () => {
  it('registers, signs in with a challenge answered at another server, and serves signed requests', async () => {
    const keys = generateIdentity();
    const viaFirst = client(serversOf(tc.cluster).slice(0, 1));
    const user = await viaFirst.register('alice', keys);
    expect(user.username).toBe('alice');
    expect(user.public_key).toBe(toHex(keys.publicKey));
    const viaThird = client(serversOf(tc.cluster).slice(2));
    const session = await viaThird.login('alice', keys, { address: '127.0.0.1', port: 40001 });
    expect(session.user_id).toBe(user.user_id);
    expect(session.presence.online).toBe(true);
    const online = await viaThird.call('list_online', {});
    expect(online.items.map((u) => u.username)).toContain('alice');
    await viaThird.call('offer_image', {
      image_id: 'sunset',
      title: 'Sunset',
      preview: { width: 640, height: 480, media_type: 'image/jpeg', size_bytes: 1234 },
    });
    viaFirst.actAs(user.user_id, keys);
    const images = await viaFirst.call('list_images', { owner_id: user.user_id });
    expect(images.items.map((i) => i.image_id)).toEqual(['sunset']);
    viaFirst.close();
    viaThird.close();
  });

  it('refuses a registration without proof of the key', async () => {
    const keys = generateIdentity();
    const other = generateIdentity();
    const forged = toHex(sign(other, new TextEncoder().encode('whatever')));
    const reply = await raw({
      type: 'DirectoryRequest',
      op: 'register',
      args: { username: 'mallory', public_key: toHex(keys.publicKey), proof: forged },
      auth: null,
    });
    expect(reply).toMatchObject({
      type: 'DirectoryResponse',
      ok: false,
      error: { code: 'denied', message: expect.stringMatching(/proof/) },
    });
  });

  it('refuses replayed, forged, skewed and foreign signed requests', async () => {
    const keys = generateIdentity();
    const c = client();
    const bob = await c.register('bob', keys);
    await c.login('bob', keys, { address: '127.0.0.1', port: 40002 });

    const request = signed(bob.user_id, keys, 'heartbeat', {});
    expect(await raw(request, 0)).toMatchObject({ ok: true });
    // The same signed bytes again, at another server: a replay.
    expect(await raw(request, 1)).toMatchObject({
      ok: false,
      error: { code: 'denied', message: expect.stringMatching(/replayed/) },
    });

    const forged = signed(bob.user_id, generateIdentity(), 'heartbeat', {});
    expect(await raw(forged)).toMatchObject({
      ok: false,
      error: { code: 'denied', message: expect.stringMatching(/signature/) },
    });

    const tampered = signed(bob.user_id, keys, 'list_online', { limit: 5 });
    tampered.args = { limit: 500 };
    expect(await raw(tampered)).toMatchObject({ ok: false, error: { code: 'denied' } });

    const stale = signed(bob.user_id, keys, 'heartbeat', {}, Date.now() - 10 * 60_000);
    expect(await raw(stale)).toMatchObject({
      ok: false,
      error: { code: 'denied', message: expect.stringMatching(/clock/) },
    });

    const unsigned: DirectoryRequestMessage = {
      type: 'DirectoryRequest',
      op: 'heartbeat',
      args: {},
      auth: null,
    };
    expect(await raw(unsigned)).toMatchObject({ type: 'Error', code: 'invalid_message' });
    c.close();
  });

  it('refuses a login answered with the wrong key, and a replayed login', async () => {
    const keys = generateIdentity();
    const c = client();
    await c.register('carol', keys);
    await expect(
      c.login('carol', generateIdentity(), { address: '127.0.0.1', port: 40003 }),
    ).rejects.toMatchObject({ code: 'denied' });
    c.close();
  });

  it('names bad arguments clearly', async () => {
    const keys = generateIdentity();
    const c = client();
    const dave = await c.register('dave', keys);
    await c.login('dave', keys, { address: '127.0.0.1', port: 40004 });
    const unknownArg = signed(dave.user_id, keys, 'heartbeat', { sneaky: 1 });
    expect(await raw(unknownArg)).toMatchObject({
      ok: false,
      error: {
        code: 'invalid_argument',
        message: expect.stringMatching(/heartbeat\.sneaky: unknown field "sneaky"; allowed: none/),
      },
    });
    const wrongType = signed(dave.user_id, keys, 'create_request', {
      owner_id: dave.user_id,
      image_id: 'x',
      views: 'many',
    });
    expect(await raw(wrongType)).toMatchObject({
      ok: false,
      error: {
        code: 'invalid_argument',
        message: expect.stringMatching(
          /^create_request\.views: expected an integer from 1 to 10000; got a string of 4 characters$/,
        ),
      },
    });
    const longName = signed(dave.user_id, keys, 'create_request', {
      owner_id: 'x'.repeat(5000),
      image_id: 'x',
      views: 1,
    });
    const refusal = (await raw(longName)) as unknown as { error: { message: string } };
    expect(refusal.error.message).toMatch(
      /^create_request\.owner_id: expected a lowercase UUID.*; got a string of 5000 characters$/,
    );
    expect(refusal.error.message.length).toBeLessThan(200);
    await expect(c.register('Not A Name', generateIdentity())).rejects.toMatchObject({
      code: 'invalid_argument',
    });
    c.close();
  });

  it('keeps answering when the server a client used is killed', async () => {
    const keys = generateIdentity();
    const c = client();
    await c.register('erin', keys);
    await c.login('erin', keys, { address: '127.0.0.1', port: 40005 });
    await tc.cluster.kill(1);
    const beat = await c.call('heartbeat', {});
    expect(beat.presence.online).toBe(true);
    c.close();
  });
});

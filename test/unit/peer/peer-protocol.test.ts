import { describe, expect, it } from 'vitest';
import { isDecodeFailure, type DecodedMessage } from '../../../src/protocol/codec.js';
import { FrameDecoder } from '../../../src/protocol/frame-decoder.js';
import { encodeFrame } from '../../../src/protocol/frame.js';
import {
  P2P_CLUSTER_ID,
  PEER_LIMITS,
  PEER_MESSAGE_SPECS,
  createPeerCodec,
  validatePeerMessage,
  type PeerMessage,
} from '../../../src/protocol/peer-protocol.js';

const codec = createPeerCodec();
const UID_A = '11111111-2222-4333-8444-555555555555';
const UID_B = '99999999-2222-4333-8444-555555555555';
const SIG = 'b'.repeat(128);

function decode(bytes: Uint8Array) {
  const frames = new FrameDecoder().push(bytes);
  expect(frames).toHaveLength(1);
  return codec.decode(frames[0]!, P2P_CLUSTER_ID);
}

function rawFrame(type: number, meta: unknown, binary = new Uint8Array()): Uint8Array {
  return encodeFrame(
    { type, clusterId: P2P_CLUSTER_ID, requestId: 1, epoch: 0 },
    new TextEncoder().encode(JSON.stringify(meta)),
    binary,
  );
}

const good: PeerMessage[] = [
  { type: 'PeerHello', user_id: UID_A, username: 'alice' },
  { type: 'PeerWelcome', user_id: UID_B, username: 'bob' },
  { type: 'PreviewListRequest' },
  {
    type: 'PreviewList',
    images: [{ image_id: 'i1', title: 'Sunset', width: 640, height: 480, preview_size_bytes: 900 }],
  },
  { type: 'PreviewRequest', image_id: 'i1' },
  { type: 'RequestNotice', request_id: UID_A },
  { type: 'CopyAvailable', image_id: 'i1', version: 3 },
  { type: 'CopyFetch', image_id: 'i1', offset: 0, length: 1024 },
  { type: 'RightsUpdate', image_id: 'i1', quota: 5, version: 2, revoked: false, signature: SIG },
  { type: 'Ack' },
  { type: 'Ack', detail: 'already held' },
  { type: 'PeerError', code: 'denied', message: 'no' },
];
/** One message of each type that carries binary bytes (as long as `size_bytes`). */
const withBinary: PeerMessage[] = [
  {
    type: 'Preview',
    image_id: 'i1',
    media_type: 'image/jpeg',
    width: 160,
    height: 90,
    size_bytes: 4,
  },
  {
    type: 'CopyPart',
    image_id: 'i1',
    version: 1,
    total_bytes: 100,
    sha256: 'c'.repeat(64),
    offset: 96,
    size_bytes: 4,
  },
];

describe('peer protocol', () => {
  it('gives every message a distinct code', () => {
    expect(new Set(PEER_MESSAGE_SPECS.map((s) => s.code)).size).toBe(PEER_MESSAGE_SPECS.length);
  });

  it('round-trips every message without binary', () => {
    for (const message of good) {
      const decoded = decode(codec.encode(message, { clusterId: P2P_CLUSTER_ID, requestId: 3 }));
      expect(isDecodeFailure(decoded)).toBe(false);
      expect((decoded as DecodedMessage<PeerMessage>).message).toEqual(message);
    }
  });

  it('carries binary for Preview and CopyPart and checks its length', () => {
    const binary = new Uint8Array(10).fill(7);
    const part: PeerMessage = {
      type: 'CopyPart',
      image_id: 'i1',
      version: 1,
      total_bytes: 100,
      sha256: 'c'.repeat(64),
      offset: 90,
      size_bytes: 10,
    };
    const decoded = decode(codec.encode(part, { clusterId: 0, requestId: 2, binary }));
    expect((decoded as DecodedMessage<PeerMessage>).binary).toEqual(binary);
    const lying = decode(rawFrame(35, { ...part, size_bytes: 9 }, binary));
    expect(lying).toMatchObject({ failure: 'bad_binary' });
  });

  it('refuses unknown fields, wrong types, out-of-range values and unknown types', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ type: 'PeerHello', user_id: UID_A, username: 'alice', extra: 1 }, /unknown field/],
      [{ type: 'PeerHello', user_id: 'not-a-uuid', username: 'alice' }, /user_id/],
      [{ type: 'PeerHello', user_id: UID_A, username: 'Alice!' }, /username/],
      // Protocol 1's handshake (nonces, signatures, PeerAuth) is not spoken any more.
      [{ type: 'PeerHello', user_id: UID_A, username: 'alice', nonce: 'a'.repeat(64) }, /nonce/],
      [{ type: 'PeerAuth', signature: SIG }, /unknown peer message type/],
      [{ type: 'CopyFetch', image_id: 'i1', offset: -1, length: 5 }, /offset/],
      [
        { type: 'CopyFetch', image_id: 'i1', offset: 0, length: PEER_LIMITS.max_chunk_bytes + 1 },
        /length/,
      ],
      [{ type: 'CopyFetch', image_id: '../etc', offset: 0, length: 5 }, /image_id/],
      [
        {
          type: 'RightsUpdate',
          image_id: 'i1',
          quota: 2e6,
          version: 1,
          revoked: false,
          signature: SIG,
        },
        /quota/,
      ],
      [
        {
          type: 'RightsUpdate',
          image_id: 'i1',
          quota: 1,
          version: 1,
          revoked: 'no',
          signature: SIG,
        },
        /revoked/,
      ],
      [
        { type: 'PreviewList', images: new Array(PEER_LIMITS.max_preview_list + 1).fill({}) },
        /at most/,
      ],
      [
        {
          type: 'PreviewList',
          images: [
            { image_id: 'i1', title: 'a\u0007b', width: 1, height: 1, preview_size_bytes: 1 },
          ],
        },
        /control/,
      ],
      [
        {
          type: 'Preview',
          image_id: 'i1',
          media_type: 'image/png',
          width: 1,
          height: 1,
          size_bytes: 1,
        },
        /media_type/,
      ],
      [
        {
          type: 'Preview',
          image_id: 'i1',
          media_type: 'image/jpeg',
          width: 161,
          height: 1,
          size_bytes: 1,
        },
        /width/,
      ],
      [
        {
          type: 'CopyPart',
          image_id: 'i1',
          version: 1,
          total_bytes: 10,
          sha256: 'c'.repeat(64),
          offset: 8,
          size_bytes: 5,
        },
        /past total_bytes/,
      ],
      [{ type: 'PeerError', code: 'BAD CODE', message: 'x' }, /code/],
      [{ type: 'Nope' }, /unknown peer message type/],
      [{ type: '__proto__' }, /unknown peer message type/],
      [[1, 2], /JSON object/],
      ['text', /JSON object/],
    ];
    for (const [value, error] of cases) {
      const result = validatePeerMessage(value);
      expect(result.ok, JSON.stringify(value).slice(0, 80)).toBe(false);
      if (!result.ok) expect(result.error).toMatch(error);
    }
  });

  it('has one valid example of every type here, and round-trips those with binary', () => {
    const types = [...good, ...withBinary].map((m) => m.type);
    expect(new Set(types)).toEqual(new Set(PEER_MESSAGE_SPECS.map((s) => s.type)));
    for (const message of withBinary) {
      const binary = new Uint8Array(4).fill(9);
      const decoded = decode(codec.encode(message, { clusterId: 0, requestId: 5, binary }));
      expect(decoded, message.type).toMatchObject({ message, binary, requestId: 5 });
    }
  });

  it('refuses an unknown field in every type, naming it and what is allowed', () => {
    for (const message of [...good, ...withBinary]) {
      expect(validatePeerMessage({ ...message, surplus: 1 }), message.type).toEqual({
        ok: false,
        error: expect.stringMatching(
          new RegExp(`^${message.type}\\.surplus: unknown field "surplus"; allowed: type`),
        ),
      });
    }
  });

  it('names the type and the field when a field is missing', () => {
    for (const message of [...good, ...withBinary]) {
      for (const key of Object.keys(message)) {
        if (key === 'type' || key === 'detail') continue;
        const copy: Record<string, unknown> = { ...message };
        delete copy[key];
        expect(validatePeerMessage(copy), `${message.type} without ${key}`).toEqual({
          ok: false,
          error: expect.stringMatching(new RegExp(`^${message.type}\\.${key}: missing; expected`)),
        });
      }
    }
  });

  it('names the type and the field when a number is out of range', () => {
    for (const message of [...good, ...withBinary]) {
      for (const [key, value] of Object.entries(message)) {
        if (typeof value !== 'number') continue;
        for (const wrong of [-1, 2 ** 40, value + 0.5]) {
          expect(
            validatePeerMessage({ ...message, [key]: wrong }),
            `${message.type}.${key}`,
          ).toEqual({
            ok: false,
            error: expect.stringMatching(
              new RegExp(`^${message.type}\\.${key}: expected an integer from \\d+ to \\d+$`),
            ),
          });
        }
      }
    }
  });

  it('reports metadata that is not JSON, or disagrees with the frame type', () => {
    const garbage = encodeFrame(
      { type: 1, clusterId: 0, requestId: 1, epoch: 0 },
      new Uint8Array([0x7b, 0xff, 0xfe]),
    );
    expect(decode(garbage)).toMatchObject({ failure: 'bad_metadata' });
    expect(
      decode(rawFrame(2, { type: 'PeerHello', user_id: UID_A, username: 'a1c' })),
    ).toMatchObject({
      failure: 'invalid_message',
    });
    expect(decode(rawFrame(200, { type: 'Ack' }))).toMatchObject({ failure: 'unknown_type' });
  });
});

import { describe, expect, it } from 'vitest';
import type { Message } from '../../../src/core/messages.js';
import {
  isDecodeFailure,
  type DecodeFailure,
  type DecodedMessage,
} from '../../../src/protocol/codec.js';
import {
  CLOUD_MESSAGE_SPECS,
  createCloudCodec,
  type CloudMessage,
} from '../../../src/protocol/cloud-protocol.js';
import { FrameDecoder } from '../../../src/protocol/frame-decoder.js';
import { encodeFrame } from '../../../src/protocol/frame.js';

const codec = createCloudCodec();
const CLUSTER = 7;

function roundTrip(bytes: Uint8Array): DecodedMessage<CloudMessage> | DecodeFailure {
  const frames = new FrameDecoder().push(bytes);
  expect(frames).toHaveLength(1);
  return codec.decode(frames[0]!, CLUSTER);
}

const load = {
  score: 12.5,
  cpu_pct: 20,
  memory_used_pct: 40,
  load_average: 0.5,
  active_tasks: 1,
  queue_length: 0,
  capacity: 102,
};

const heartbeat: Message = {
  type: 'Heartbeat',
  from: 2,
  epoch: 3002,
  leader_id: 2,
  role: 'leader',
  load,
  synced: true,
  history: { seq: 5, digest: 1234, size: 2 },
  successors: [1, 3],
  members: [{ id: 1, state: 'alive', synced: true, age_ms: 120, load }],
};

describe('cloud protocol codec', () => {
  it('gives every message type a distinct code', () => {
    expect(new Set(CLOUD_MESSAGE_SPECS.map((s) => s.code)).size).toBe(CLOUD_MESSAGE_SPECS.length);
    expect(codec.knownTypes()).toContain('TaskAssignmentRequest');
  });

  it('round-trips a heartbeat with its header fields', () => {
    const decoded = roundTrip(
      codec.encode(heartbeat, { clusterId: CLUSTER, epoch: 3002, requestId: 9 }),
    );
    expect(isDecodeFailure(decoded)).toBe(false);
    const ok = decoded as DecodedMessage<CloudMessage>;
    expect(ok.message).toEqual(heartbeat);
    expect(ok).toMatchObject({ epoch: 3002, requestId: 9 });
  });

  it('carries image bytes raw after the metadata, never base64', () => {
    const image = new Uint8Array(4096).map((_, i) => (i * 13) & 0xff);
    const request: Message = {
      type: 'TaskRequest',
      client_id: 'alice',
      task_id: 't-1',
      size_bytes: image.length,
      assignment: { server_id: 1, epoch: 1001, attempt: 1 },
    };
    const bytes = codec.encode(request, { clusterId: CLUSTER, binary: image });
    // The frame is the header + small JSON + the exact image bytes: no 4/3 base64 growth.
    expect(bytes.length).toBeLessThan(image.length + 300);
    const decoded = roundTrip(bytes) as DecodedMessage<CloudMessage>;
    expect(Array.from(decoded.binary)).toEqual(Array.from(image));
  });

  it('refuses a binary length that disagrees with the declared size', () => {
    const request: Message = {
      type: 'TaskRequest',
      client_id: 'alice',
      task_id: 't-1',
      size_bytes: 10,
      assignment: { server_id: 1, epoch: 1001, attempt: 1 },
    };
    const decoded = roundTrip(
      codec.encode(request, { clusterId: CLUSTER, binary: new Uint8Array(9) }),
    );
    expect(decoded).toMatchObject({
      failure: 'bad_binary',
      message: 'TaskRequest.size_bytes says 10 bytes but 9 bytes followed',
    });
  });

  it('refuses binary bytes on a message that carries none', () => {
    expect(() =>
      codec.encode(heartbeat, { clusterId: CLUSTER, binary: new Uint8Array(1) }),
    ).toThrow(/carries no binary/);
    const frame = encodeFrame(
      { type: 5, clusterId: CLUSTER, requestId: 0, epoch: 0 },
      new TextEncoder().encode(JSON.stringify(heartbeat)),
      new Uint8Array(3),
    );
    expect(roundTrip(frame)).toMatchObject({ failure: 'bad_binary' });
  });

  it('names unknown types, wrong clusters, bad JSON and invalid fields', () => {
    const meta = new TextEncoder().encode('{}');
    expect(
      roundTrip(encodeFrame({ type: 200, clusterId: CLUSTER, requestId: 4, epoch: 0 }, meta)),
    ).toMatchObject({
      failure: 'unknown_type',
      requestId: 4,
      message: 'unknown message type code 200',
    });
    expect(roundTrip(codec.encode(heartbeat, { clusterId: 8 }))).toMatchObject({
      failure: 'wrong_cluster',
    });
    expect(
      roundTrip(
        encodeFrame(
          { type: 5, clusterId: CLUSTER, requestId: 0, epoch: 0 },
          new TextEncoder().encode('{"type":'),
        ),
      ),
    ).toMatchObject({
      failure: 'bad_metadata',
    });
    expect(
      roundTrip(
        encodeFrame(
          { type: 5, clusterId: CLUSTER, requestId: 0, epoch: 0 },
          new Uint8Array([0xff, 0xfe]),
        ),
      ),
    ).toMatchObject({
      failure: 'bad_metadata',
    });
    const badScore = { ...heartbeat, load: { ...load, cpu_pct: 400 } };
    expect(roundTrip(codec.encode(badScore as Message, { clusterId: CLUSTER }))).toMatchObject({
      failure: 'invalid_message',
      message: expect.stringMatching(/load\.cpu_pct/),
    });
  });

  it('refuses metadata whose type disagrees with the frame code', () => {
    const frame = encodeFrame(
      { type: 1, clusterId: CLUSTER, requestId: 0, epoch: 0 },
      new TextEncoder().encode(JSON.stringify(heartbeat)),
    );
    expect(roundTrip(frame)).toMatchObject({
      failure: 'invalid_message',
      message: 'frame type code says Election but metadata says Heartbeat',
    });
  });

  it('round-trips an Error reply and validates it', () => {
    const error: CloudMessage = { type: 'Error', code: 'wrong_cluster', message: 'nope' };
    expect(
      (roundTrip(codec.encode(error, { clusterId: CLUSTER })) as DecodedMessage<CloudMessage>)
        .message,
    ).toEqual(error);
    const bad = encodeFrame(
      { type: 255, clusterId: CLUSTER, requestId: 0, epoch: 0 },
      new TextEncoder().encode('{"type":"Error","code":"Bad Code!","message":""}'),
    );
    expect(roundTrip(bad)).toMatchObject({ failure: 'invalid_message' });
  });
});

describe('Welcome validation', () => {
  const welcome = (address: string): CloudMessage =>
    ({
      type: 'Welcome',
      server_id: 1,
      servers: [{ id: 1, address }],
      leader_id: null,
      epoch: 0,
    }) as CloudMessage;

  it('accepts host:port and [ipv6]:port addresses', () => {
    for (const address of ['127.0.0.1:8001', 'cloud-1.example:65535', '[::1]:8001']) {
      expect(
        isDecodeFailure(roundTrip(codec.encode(welcome(address), { clusterId: CLUSTER }))),
      ).toBe(false);
    }
  });

  it('refuses addresses a client could not dial', () => {
    for (const address of ['127.0.0.1', '127.0.0.1:0', 'host:70000', 'a b:1', ':8001']) {
      expect(roundTrip(codec.encode(welcome(address), { clusterId: CLUSTER }))).toMatchObject({
        failure: 'invalid_message',
      });
    }
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  isMessageType,
  MESSAGE_TYPES,
  type Message,
  type MessageType,
} from '../../../src/core/messages.js';
import { isDecodeFailure } from '../../../src/protocol/codec.js';
import { CLOUD_MESSAGE_SPECS, createCloudCodec } from '../../../src/protocol/cloud-protocol.js';
import { FrameDecoder } from '../../../src/protocol/frame-decoder.js';
import { PROTOCOL_VERSION } from '../../../src/protocol/frame.js';
import { validateMessage } from '../../../src/protocol/cloud-message-checks.js';
import { EXAMPLES, EXAMPLE_LOAD as load } from '../core/message-examples.js';

/** The example of `type` (EXAMPLES has one of each). */
function exampleOf(type: MessageType): Message {
  const found = EXAMPLES.find((m) => m.type === type);
  if (!found) throw new Error(`no example of ${type}`);
  return found;
}

describe('validateMessage', () => {
  it('accepts a valid example of every message type', () => {
    const all = [
      ...MESSAGE_TYPES.serverToServer,
      ...MESSAGE_TYPES.clientToServer,
      ...MESSAGE_TYPES.serverToClient,
    ];
    expect(EXAMPLES.map((m) => m.type).sort()).toEqual([...all].sort());
    for (const m of EXAMPLES) expect(validateMessage(m), m.type).toEqual({ ok: true, message: m });
  });

  it('names the type and field that is wrong', () => {
    const bad = (patch: Record<string, unknown>, base: Message) =>
      validateMessage({ ...base, ...patch });
    const hb = EXAMPLES[4] as Message;
    const req = EXAMPLES[15] as Message;
    expect(bad({ from: 1000 }, hb)).toEqual({
      ok: false,
      error: 'Heartbeat.from: expected an integer in 1..999',
    });
    expect(bad({ epoch: -1 }, hb)).toMatchObject({
      ok: false,
      error: expect.stringContaining('Heartbeat.epoch'),
    });
    expect(bad({ role: 'king' }, hb)).toMatchObject({
      ok: false,
      error: expect.stringContaining('role: expected one of'),
    });
    expect(bad({ client_id: 'a/b' }, req)).toMatchObject({
      ok: false,
      error: expect.stringContaining('client_id'),
    });
    expect(bad({ task_id: 'x'.repeat(65) }, req)).toMatchObject({ ok: false });
    expect(bad({ size_bytes: 2 ** 31 }, req)).toMatchObject({
      ok: false,
      error: expect.stringContaining('size_bytes'),
    });
    expect(bad({ assignment: { server_id: 2, epoch: 0, attempt: 1 } }, req)).toMatchObject({
      ok: false,
    });
    expect(bad({ successors: Array.from({ length: 17 }, () => 2) }, hb)).toMatchObject({
      ok: false,
    });
    expect(bad({ load: { ...load, cpu_pct: Number.NaN } }, hb)).toMatchObject({
      ok: false,
      error: expect.stringContaining('load.cpu_pct'),
    });
    expect(validateMessage({ type: 'Gossip' })).toEqual({
      ok: false,
      error: 'type: unknown message type "Gossip"',
    });
    expect(validateMessage('Heartbeat')).toEqual({
      ok: false,
      error: 'message: expected an object',
    });
    expect(validateMessage({ ...(EXAMPLES[18] as Message), status: 'busy' })).toMatchObject({
      ok: false,
      error: expect.stringContaining('null when status is busy'),
    });
  });

  it('never throws, whatever it is given', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        const r = validateMessage(value);
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 2000 },
    );
  });

  it('names the type and the field when a field is missing', () => {
    for (const m of EXAMPLES) {
      for (const key of Object.keys(m)) {
        if (key === 'type') continue;
        const copy: Record<string, unknown> = { ...m };
        delete copy[key];
        const result = validateMessage(copy);
        expect(result, `${m.type} without ${key}`).toMatchObject({
          ok: false,
          error: expect.stringMatching(new RegExp(`^${m.type}\\.${key}: missing; expected .+`)),
        });
      }
    }
  });

  it('names the type and the field when a number is out of range', () => {
    for (const m of EXAMPLES) {
      for (const [key, value] of Object.entries(m)) {
        if (typeof value !== 'number') continue;
        for (const wrong of [-2, 2 ** 64, 0.5 + Math.max(1, value)]) {
          // Scores and loads may be fractions: only the bounds refuse them.
          if (key === 'score' && wrong < 1e6 && wrong >= 0) continue;
          const result = validateMessage({ ...m, [key]: wrong });
          expect(result, `${m.type}.${key} = ${wrong}`).toMatchObject({
            ok: false,
            error: expect.stringMatching(new RegExp(`^${m.type}\\.${key}: expected an? .+`)),
          });
        }
      }
    }
  });

  it('tolerates an unknown field in every type and leaves it out of the message', () => {
    for (const m of EXAMPLES) {
      expect(validateMessage({ ...m, added_by_a_newer_server: [1] }), m.type).toEqual({
        ok: true,
        message: m,
      });
    }
    const hb = exampleOf('Heartbeat');
    const withNested = { ...hb, load: { ...load, gpu_pct: 3 } };
    expect(validateMessage(withNested)).toEqual({ ok: true, message: hb });
  });

  it('checks the rules that join two fields', () => {
    const snapshot = exampleOf('HistorySnapshot');
    expect(validateMessage({ ...snapshot, part: 1, parts: 1 })).toEqual({
      ok: false,
      error: 'HistorySnapshot.part: expected an integer in 0..0',
    });
    const response = exampleOf('TaskAssignmentResponse');
    expect(validateMessage({ ...response, assignment: null })).toEqual({
      ok: false,
      error: 'TaskAssignmentResponse.assignment: expected an assignment when status is assigned',
    });
    expect(
      validateMessage({ ...response, status: 'busy', assignment: null, retry_after_ms: 500 }).ok,
    ).toBe(true);
  });
});

describe('validation happens once, at the codec', () => {
  const codec = createCloudCodec();

  it('decodes a frame only when its metadata passes the checks, and never throws', () => {
    const core = CLOUD_MESSAGE_SPECS.filter((s) => isMessageType(s.type));
    fc.assert(
      fc.property(fc.constantFrom(...core), fc.jsonValue(), (spec, meta) => {
        const body = new TextEncoder().encode(
          JSON.stringify({ ...(meta as object), type: spec.type }),
        );
        const frame = {
          version: PROTOCOL_VERSION,
          type: spec.code,
          clusterId: 1,
          requestId: 0,
          epoch: 0,
          meta: body,
          binary: new Uint8Array(0),
        };
        const decoded = codec.decode(frame, 1);
        if (isDecodeFailure(decoded))
          expect(['invalid_message', 'bad_binary']).toContain(decoded.failure);
        else expect(validateMessage(decoded.message).ok).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('hands every valid example through unchanged', () => {
    for (const m of EXAMPLES) {
      const binary = new Uint8Array(
        m.type === 'TaskRequest'
          ? m.size_bytes
          : m.type === 'TaskResponse'
            ? m.result_size_bytes
            : 0,
      );
      const frames = new FrameDecoder().push(codec.encode(m, { clusterId: 1, binary }));
      const decoded = codec.decode(frames[0]!, 1);
      expect(isDecodeFailure(decoded) ? decoded : decoded.message, m.type).toEqual(m);
    }
  });
});

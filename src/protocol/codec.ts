/**
 * Typed messages over frames. A `MessageCodec` knows, for each message type, its one-byte code,
 * whether raw binary bytes travel after the JSON metadata, and a validator for the metadata.
 *
 * Decoding never throws on bad input: it returns a `DecodeFailure` whose `code` the receiver
 * puts in an Error reply, and the connection keeps going (the frame boundaries are intact).
 * Only framing errors (frame.ts) close a connection.
 */
import { encodeFrameParts, type Frame } from './frame.js';

export type BinaryRule =
  /** The message never carries binary bytes. */
  | { kind: 'none' }
  /** Binary bytes travel after the metadata; their length must equal `meta[lengthField]`. */
  | { kind: 'sized'; lengthField: string };

export interface MessageSpec {
  code: number;
  type: string;
  binary: BinaryRule;
}

export type Validator = (
  value: unknown,
) => { ok: true; message: { type: string } } | { ok: false; error: string };

export interface EncodeOptions {
  clusterId: number;
  requestId?: number;
  epoch?: number;
  binary?: Uint8Array;
}

export interface DecodedMessage<M> {
  message: M;
  binary: Uint8Array;
  requestId: number;
  epoch: number;
}

export type DecodeFailureCode =
  'unknown_type' | 'wrong_cluster' | 'bad_metadata' | 'invalid_message' | 'bad_binary';

export interface DecodeFailure {
  failure: DecodeFailureCode;
  message: string;
  requestId: number;
  /** The type name when the code was known, for logs and metrics. */
  type: string | null;
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

export class MessageCodec<M extends { type: string }> {
  private readonly byCode = new Map<number, MessageSpec>();
  private readonly byType = new Map<string, MessageSpec>();

  constructor(
    specs: readonly MessageSpec[],
    private readonly validate: Validator,
  ) {
    for (const spec of specs) {
      if (this.byCode.has(spec.code) || this.byType.has(spec.type)) {
        throw new Error(`duplicate message spec for code ${spec.code} / type ${spec.type}`);
      }
      this.byCode.set(spec.code, spec);
      this.byType.set(spec.type, spec);
    }
  }

  specOf(type: string): MessageSpec | undefined {
    return this.byType.get(type);
  }

  knownTypes(): string[] {
    return [...this.byType.keys()];
  }

  encode(message: M, options: EncodeOptions): Uint8Array {
    const parts = this.encodeParts(message, options);
    if (parts.length === 1) return parts[0] as Uint8Array;
    const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
    let offset = 0;
    for (const part of parts) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  }

  /** The frame as [header + metadata, binary?]: the binary bytes are not copied. */
  encodeParts(message: M, options: EncodeOptions): Uint8Array[] {
    const spec = this.byType.get(message.type);
    if (!spec) throw new Error(`no wire code for message type ${message.type}`);
    const binary = options.binary ?? EMPTY;
    if (spec.binary.kind === 'none' && binary.length > 0) {
      throw new Error(`${message.type} carries no binary payload, got ${binary.length} bytes`);
    }
    const meta = utf8Encoder.encode(JSON.stringify(message));
    return encodeFrameParts(
      {
        type: spec.code,
        clusterId: options.clusterId,
        requestId: options.requestId ?? 0,
        epoch: options.epoch ?? 0,
      },
      meta,
      binary,
    );
  }

  decode(frame: Frame, expectedClusterId: number): DecodedMessage<M> | DecodeFailure {
    const spec = this.byCode.get(frame.type);
    const base = { requestId: frame.requestId, type: spec?.type ?? null };
    if (!spec) {
      return {
        ...base,
        failure: 'unknown_type',
        message: `unknown message type code ${frame.type}`,
      };
    }
    if (frame.clusterId !== expectedClusterId) {
      return {
        ...base,
        failure: 'wrong_cluster',
        message: `frame for cluster ${frame.clusterId} reached cluster ${expectedClusterId}; check cluster_id in the configs`,
      };
    }
    let value: unknown;
    try {
      value = JSON.parse(utf8Decoder.decode(frame.meta));
    } catch (err) {
      return {
        ...base,
        failure: 'bad_metadata',
        message: `${spec.type}: metadata is not UTF-8 JSON: ${(err as Error).message}`,
      };
    }
    const result = this.validate(value);
    if (!result.ok) return { ...base, failure: 'invalid_message', message: result.error };
    if (result.message.type !== spec.type) {
      return {
        ...base,
        failure: 'invalid_message',
        message: `frame type code says ${spec.type} but metadata says ${result.message.type}`,
      };
    }
    const binaryProblem = checkBinary(spec, value as Record<string, unknown>, frame.binary);
    if (binaryProblem) return { ...base, failure: 'bad_binary', message: binaryProblem };
    return {
      message: result.message as M,
      binary: frame.binary,
      requestId: frame.requestId,
      epoch: frame.epoch,
    };
  }
}

function checkBinary(
  spec: MessageSpec,
  meta: Record<string, unknown>,
  binary: Uint8Array,
): string | null {
  if (spec.binary.kind === 'none') {
    return binary.length === 0
      ? null
      : `${spec.type} carries no binary payload, got ${binary.length} bytes`;
  }
  const declared = meta[spec.binary.lengthField];
  if (declared !== binary.length) {
    return `${spec.type}.${spec.binary.lengthField} says ${String(declared)} bytes but ${binary.length} bytes followed`;
  }
  return null;
}

export function isDecodeFailure<M>(
  value: DecodedMessage<M> | DecodeFailure,
): value is DecodeFailure {
  return (value as DecodeFailure).failure !== undefined;
}

const EMPTY = new Uint8Array(0);

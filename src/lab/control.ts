/**
 * How the lab's commands talk to a user host (user-host.ts): HTTP with JSON bodies over the
 * Unix socket `control.sock` in the host's folder. Control traffic never crosses the lab's
 * network, so cutting a host off does not cut the lab off from it. This file holds the host's
 * configuration (host.json), the shapes of the answers, the checks on every input, and the
 * client.
 */
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { toErrorCode } from '../util/error-codes.js';
import { USERNAME_PATTERN } from '../util/ids.js';
import { CloudP2PError, ExitCode, errorMessage } from '../util/errors.js';
import { OP_KINDS, type AgentEventRecord, type LabOp, type OpOutcome } from './ops.js';

export const CONTROL_SOCKET = 'control.sock';
export const MAX_CONTROL_BODY_BYTES = 1024 * 1024;
export const MAX_CONTROL_ANSWER_BYTES = 64 * 1024 * 1024;
export const MAX_EVENT_WAIT_MS = 10_000;

/** host.json: what a user host runs. Written by the lab, read by `cloudp2p lab user-host`. */
export interface HostConfig {
  host: string;
  /** The host's own address: agents listen there and publish it. */
  address: string;
  /** The cloud's servers, `host:port`. */
  servers: string[];
  agents: string[];
  heartbeat_ms: number;
  /** Images the workload may ask agents to encrypt, by name. */
  images: { name: string; path: string }[];
}

export interface UserHostStatus {
  host: string;
  pid: number;
  agents: { username: string; user_id: string | null; online: boolean }[];
  events: { last_seq: number; dropped: number };
}

export interface EventsAnswer {
  /** The pid of the user host: a new one (the host was killed and revived) counts from 0 again. */
  runner: number;
  events: (AgentEventRecord & { seq: number })[];
  last_seq: number;
}

const ID = /^[A-Za-z0-9_-]{1,128}$/;

export function parseHostConfig(text: string): HostConfig {
  const bad = (what: string): never => {
    throw new CloudP2PError('lab_host_config', `host.json: ${what}`, ExitCode.usage);
  };
  let raw: Partial<HostConfig>;
  try {
    raw = JSON.parse(text) as Partial<HostConfig>;
  } catch (err) {
    return bad(`not JSON (${errorMessage(err)})`);
  }
  if (typeof raw.host !== 'string' || !/^[a-z]+-\d+$/.test(raw.host))
    bad('host must be like users-1');
  if (typeof raw.address !== 'string' || !/^\d+\.\d+\.\d+\.\d+$/.test(raw.address))
    bad('address must be an IPv4 address');
  if (!Array.isArray(raw.servers) || raw.servers.length === 0)
    bad('servers must list host:port addresses');
  for (const s of raw.servers ?? [])
    if (typeof s !== 'string' || !/^[\d.]+:\d{1,5}$/.test(s))
      bad(`server ${String(s)} is not host:port`);
  if (
    !Array.isArray(raw.agents) ||
    raw.agents.some((a) => typeof a !== 'string' || !USERNAME_PATTERN.test(a))
  )
    bad('agents must be usernames');
  if (!Number.isSafeInteger(raw.heartbeat_ms) || (raw.heartbeat_ms as number) < 100)
    bad('heartbeat_ms must be a whole number of ms, at least 100');
  if (!Array.isArray(raw.images)) bad('images must be a list of { name, path }');
  return raw as HostConfig;
}

/** Checks an operation from the control socket before anything acts on it. */
export function validateOp(value: unknown): LabOp {
  const op = value as Record<string, unknown>;
  const fail = (what: string): never => {
    throw new CloudP2PError('usage', `operation: ${what}`, ExitCode.usage);
  };
  if (typeof op !== 'object' || op === null) fail('not an object');
  if (!(OP_KINDS as readonly string[]).includes(op.kind as string))
    fail(`kind must be one of ${OP_KINDS.join(', ')}`);
  const name = (key: string): void => {
    if (typeof op[key] !== 'string' || !USERNAME_PATTERN.test(op[key] as string))
      fail(`${key} must be a username`);
  };
  const id = (key: string): void => {
    if (typeof op[key] !== 'string' || !ID.test(op[key] as string)) fail(`${key} must be an id`);
  };
  const count = (key: string, min: number, max: number): void => {
    const v = op[key];
    if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max)
      fail(`${key} must be a whole number ${min}..${max}`);
  };
  name('agent');
  switch (op.kind) {
    case 'encrypt':
      if (typeof op.image !== 'string' || op.image.length > 200) fail('image must be a name');
      if (typeof op.title !== 'string' || op.title.length > 200) fail('title must be text');
      break;
    case 'previews':
      name('owner');
      break;
    case 'request':
    case 'more_views':
      name('owner');
      id('image_id');
      count('views', 1, 10_000);
      break;
    case 'accept':
    case 'reject':
      id('request_id');
      break;
    case 'view':
      name('owner');
      id('image_id');
      break;
    case 'set_quota':
      id('image_id');
      name('viewer');
      count('quota', 0, 1_000_000);
      break;
    case 'revoke':
      id('image_id');
      name('viewer');
      break;
    default:
      break;
  }
  return op as unknown as LabOp;
}

/** The lab's side of a user host's control socket. */
export class UserHostClient {
  readonly socket: string;

  constructor(hostDir: string) {
    this.socket = join(hostDir, CONTROL_SOCKET);
  }

  status(timeout_ms = 5000): Promise<UserHostStatus> {
    return this.call('GET', '/status', undefined, timeout_ms);
  }

  execute(op: LabOp, timeout_ms = 600_000): Promise<OpOutcome> {
    return this.call('POST', '/op', op, timeout_ms);
  }

  events(after: number, wait_ms: number): Promise<EventsAnswer> {
    return this.call(
      'GET',
      `/events?after=${after}&wait_ms=${wait_ms}`,
      undefined,
      wait_ms + 10_000,
    );
  }

  snapshot(agent: string, timeout_ms = 120_000): Promise<unknown> {
    return this.call('POST', '/snapshot', { agent }, timeout_ms);
  }

  stop(): Promise<unknown> {
    return this.call('POST', '/stop', {}, 10_000);
  }

  private call<T>(method: string, path: string, body: unknown, timeout_ms: number): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise<T>((resolve, reject) => {
      const request = httpRequest(
        {
          socketPath: this.socket,
          // A fresh connection per call: with Node's keep-alive agent a call could reuse a
          // socket the host is just closing as idle (ECONNRESET, an operation wrongly failed).
          agent: false,
          path,
          method,
          headers: payload
            ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
            : {},
          timeout: timeout_ms,
        },
        (response) => {
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_CONTROL_ANSWER_BYTES) {
              request.destroy(new Error(`answer over ${MAX_CONTROL_ANSWER_BYTES} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          response.on('end', () => {
            try {
              const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as T & {
                error?: { code: string; message: string };
              };
              if ((response.statusCode ?? 500) >= 400)
                reject(
                  new CloudP2PError(
                    toErrorCode(parsed.error?.code ?? '', 'lab_control_failed'),
                    parsed.error?.message ?? `status ${response.statusCode}`,
                  ),
                );
              else resolve(parsed);
            } catch (err) {
              reject(err);
            }
          });
        },
      );
      request.on('timeout', () => request.destroy(new Error(`no answer within ${timeout_ms} ms`)));
      request.on('error', (err) =>
        reject(
          new CloudP2PError(
            'user_host_unreachable',
            `user host at ${this.socket}: ${errorMessage(err)}`,
            ExitCode.unavailable,
          ),
        ),
      );
      request.end(payload);
    });
  }
}

/**
 * The cloud's wire vocabulary: every message type with its one-byte code. Codes are part of the
 * protocol (docs/PROTOCOL.md) and never reused:
 *
 *   1..31    server <-> server (election, heartbeats, history, failure simulation)
 *   32..47   client -> server (tasks)
 *   48..63   server -> client (tasks)
 *   64..127  directory requests and replies (users, presence, images, grants)
 *   255      Error
 *
 * Core messages (src/core/messages.ts) are validated by ./cloud-message-checks.ts; Error,
 * Hello and Welcome are defined here. Every message is validated once, here on decode: past the
 * codec, the core and the runtime take typed messages.
 */
import { isMessageType, type Message } from '../core/messages.js';
import { DIAL, endpointProblem } from '../transport/endpoint.js';
import { validateMessage } from './cloud-message-checks.js';
import { ERROR_CODE_PATTERN, ERROR_CODE_RULE, TASK_ID_RULE, isClientId } from './ids.js';
import { MessageCodec, type MessageSpec, type Validator } from './codec.js';
import {
  validateDirectoryRequest,
  validateDirectoryResponse,
  type DirectoryRequestMessage,
  type DirectoryResponseMessage,
} from './directory-protocol.js';

/** A protocol-level refusal: the request could not be read or is not allowed here. */
export interface ErrorMessage {
  type: 'Error';
  /** Stable machine-readable reason (unknown_type, wrong_cluster, invalid_message, ...). */
  code: string;
  /** A sentence for people: what was wrong and what is allowed. */
  message: string;
}

/**
 * A client's first message to a server: "who are you and who else is in the cloud?". Lets a
 * client configured with a few addresses learn every server's id and address.
 */
export interface HelloMessage {
  type: 'Hello';
  /** The client's id (same rules as core client ids). */
  client_id: string;
}

/** The answer to Hello. */
export interface WelcomeMessage {
  type: 'Welcome';
  /** The answering server's id. */
  server_id: number;
  /** Every server of the cloud (including the answering one) with the address clients use. */
  servers: Array<{ id: number; address: string }>;
  /** The leader the answering server follows (null: none known right now). */
  leader_id: number | null;
  /** The answering server's epoch. */
  epoch: number;
}

export type CloudMessage =
  | Message
  | ErrorMessage
  | HelloMessage
  | WelcomeMessage
  | DirectoryRequestMessage
  | DirectoryResponseMessage;

const none = { kind: 'none' } as const;

export const CLOUD_MESSAGE_SPECS: readonly MessageSpec[] = [
  { code: 1, type: 'Election', binary: none },
  { code: 2, type: 'Alive', binary: none },
  { code: 3, type: 'Nominate', binary: none },
  { code: 4, type: 'Coordinator', binary: none },
  { code: 5, type: 'Heartbeat', binary: none },
  { code: 6, type: 'StaleEpoch', binary: none },
  { code: 7, type: 'Handover', binary: none },
  { code: 8, type: 'HistoryAdd', binary: none },
  { code: 9, type: 'HistoryRemove', binary: none },
  { code: 10, type: 'HistorySyncRequest', binary: none },
  { code: 11, type: 'HistorySnapshot', binary: none },
  { code: 12, type: 'HistoryOffer', binary: none },
  { code: 13, type: 'FailureSimulation', binary: none },
  { code: 14, type: 'Leave', binary: none },
  { code: 32, type: 'TaskAssignmentRequest', binary: none },
  { code: 33, type: 'TaskRequest', binary: { kind: 'sized', lengthField: 'size_bytes' } },
  { code: 34, type: 'TaskAck', binary: none },
  { code: 35, type: 'TaskStatusQuery', binary: none },
  { code: 36, type: 'Hello', binary: none },
  { code: 48, type: 'TaskAssignmentResponse', binary: none },
  { code: 49, type: 'TaskAccepted', binary: none },
  { code: 50, type: 'TaskRejected', binary: none },
  { code: 51, type: 'TaskResponse', binary: { kind: 'sized', lengthField: 'result_size_bytes' } },
  { code: 52, type: 'TaskStatusResponse', binary: none },
  { code: 53, type: 'Welcome', binary: none },
  { code: 64, type: 'DirectoryRequest', binary: none },
  { code: 65, type: 'DirectoryResponse', binary: none },
  { code: 255, type: 'Error', binary: none },
];

const MAX_ERROR_TEXT = 1000;

function validateError(value: Record<string, unknown>): ReturnType<Validator> {
  const { code, message } = value;
  if (typeof code !== 'string' || !ERROR_CODE_PATTERN.test(code)) {
    return { ok: false, error: `Error.code: expected ${ERROR_CODE_RULE}` };
  }
  if (typeof message !== 'string' || message.length > MAX_ERROR_TEXT) {
    return {
      ok: false,
      error: `Error.message: expected a string of at most ${MAX_ERROR_TEXT} characters`,
    };
  }
  return { ok: true, message: { type: 'Error', code, message } as ErrorMessage };
}

/** `host:port` (or `[ipv6]:port`), as clients dial it. */
function isAddress(value: unknown): value is string {
  return endpointProblem(value, DIAL) === null;
}
const MAX_SERVERS = 999;

function isServerId(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 999;
}

function validateHello(value: Record<string, unknown>): ReturnType<Validator> {
  if (!isClientId(value.client_id)) {
    return { ok: false, error: `Hello.client_id: expected ${TASK_ID_RULE}` };
  }
  return { ok: true, message: { type: 'Hello', client_id: value.client_id } as HelloMessage };
}

function validateWelcome(value: Record<string, unknown>): ReturnType<Validator> {
  const { server_id, servers, leader_id, epoch } = value;
  if (!isServerId(server_id))
    return { ok: false, error: 'Welcome.server_id: expected an integer in 1..999' };
  if (!Array.isArray(servers) || servers.length === 0 || servers.length > MAX_SERVERS) {
    return { ok: false, error: `Welcome.servers: expected 1..${MAX_SERVERS} entries` };
  }
  for (const [i, entry] of servers.entries()) {
    const e = entry as { id?: unknown; address?: unknown } | null;
    if (typeof e !== 'object' || e === null || !isServerId(e.id) || !isAddress(e.address)) {
      return {
        ok: false,
        error: `Welcome.servers[${i}]: expected { id: 1..999, address: "host:port" }`,
      };
    }
  }
  if (leader_id !== null && !isServerId(leader_id))
    return { ok: false, error: 'Welcome.leader_id: expected null or 1..999' };
  if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch) || epoch < 0) {
    return { ok: false, error: 'Welcome.epoch: expected a non-negative integer' };
  }
  return { ok: true, message: value as unknown as WelcomeMessage };
}

/** Validators for the messages defined in this file; everything else is a core message. */
const LOCAL_VALIDATORS = new Map<string, (value: Record<string, unknown>) => ReturnType<Validator>>(
  [
    ['Error', validateError],
    ['Hello', validateHello],
    ['Welcome', validateWelcome],
    ['DirectoryRequest', validateDirectoryRequest],
    ['DirectoryResponse', validateDirectoryResponse],
  ],
);

export const validateCloudMessage: Validator = (value) => {
  const type =
    typeof value === 'object' && value !== null ? (value as { type?: unknown }).type : undefined;
  const local = typeof type === 'string' ? LOCAL_VALIDATORS.get(type) : undefined;
  return local ? local(value as Record<string, unknown>) : validateMessage(value);
};

/** Is this one of the core's messages (as opposed to Error, Hello, Welcome, directory)? */
export function isCoreMessage(message: CloudMessage): message is Message {
  return isMessageType(message.type);
}

export function createCloudCodec(): MessageCodec<CloudMessage> {
  return new MessageCodec<CloudMessage>(CLOUD_MESSAGE_SPECS, validateCloudMessage);
}

/** Cuts an error text to what the Error message allows. */
export function errorText(text: string): string {
  return text.length <= MAX_ERROR_TEXT ? text : `${text.slice(0, MAX_ERROR_TEXT - 1)}…`;
}

/**
 * Every error code the program reports, in one spelling (snake_case, `^[a-z][a-z0-9_]*$`),
 * each with the CLI exit code and the HTTP status (local agent API and page routes) it maps
 * to. `CloudP2PError` takes its exit code from here; the HTTP layer its status. Codes travel on
 * the wire (cloud `Error`, `DirectoryResponse`, `PeerError`, the agent's JSON API): never
 * rename one without changing both ends in the same commit.
 *
 * Pure and browser-safe (the peer page reads codes from the agent's answers).
 */
import { ExitCode, type ExitCodeValue } from './exit-codes.js';

interface CodeInfo {
  exit: ExitCodeValue;
  http: number;
}

const {
  usage,
  failure,
  badInput,
  noPayload,
  corrupted,
  capacity,
  denied,
  unavailable,
  signatureInvalid,
} = ExitCode;
const e = (exit: ExitCodeValue, http: number): CodeInfo => ({ exit, http });

export const ERROR_CODES = {
  // ---- General ------------------------------------------------------------------------------
  /** A bad command-line argument or value. */
  usage: e(usage, 400),
  /** A config file that breaks a rule (file, key and what is allowed in the message). */
  bad_config: e(usage, 400),
  /** A bug or an unexpected failure; the log says more. */
  internal: e(failure, 500),
  failed: e(failure, 500),
  interrupted: e(failure, 500),
  cancelled: e(failure, 500),
  file_unreadable: e(badInput, 400),
  file_too_large: e(badInput, 400),
  /** An output path (-o, --out-dir) in a missing folder, or naming a folder. */
  output_unwritable: e(usage, 400),
  /** Writing an output file failed (permissions, disk full...). */
  write_failed: e(failure, 500),
  /** A text input (seed-text mode) that is not valid UTF-8. */
  text_invalid: e(badInput, 400),

  // ---- Stego engine (src/stego/errors.ts) ---------------------------------------------------
  image_invalid: e(badInput, 400),
  image_unsupported: e(badInput, 400),
  image_too_large: e(badInput, 400),
  payload_invalid: e(badInput, 400),
  payload_unsupported: e(badInput, 400),
  no_payload: e(noPayload, 422),
  /** Signed access rights that do not verify with the key they carry (`stego extract`). */
  signature_invalid: e(signatureInvalid, 422),
  payload_corrupted: e(corrupted, 422),
  capacity_exceeded: e(capacity, 422),
  payload_sealed: e(denied, 403),

  // ---- Identity -----------------------------------------------------------------------------
  bad_key: e(badInput, 400),
  /** A certificate or key file (TLS) that cannot be read or does not match. */
  bad_certificate: e(usage, 400),
  seal_corrupted: e(corrupted, 422),
  seal_not_for_you: e(denied, 403),

  // ---- The cloud: servers, clients, tasks ---------------------------------------------------
  no_servers: e(usage, 400),
  /** No cloud CA named: a client cannot tell the real cloud (docs/SECURITY.md). */
  no_cloud_ca: e(usage, 400),
  /** A server's [tls] files are missing, unreadable, too open, or do not fit its config. */
  tls_files: e(usage, 400),
  /** A server config without [tls] (only the benchmark's plaintext flag runs without). */
  tls_missing: e(usage, 400),
  /** A server's TCP or HTTP port is already in use (or not ours to take). */
  port_unavailable: e(usage, 400),
  cloud_unreachable: e(unavailable, 503),
  client_closed: e(failure, 500),
  task_failed: e(unavailable, 503),
  task_refused: e(badInput, 400),
  task_timeout: e(failure, 500),
  verify_failed: e(corrupted, 422),
  cloud_result_bad: e(corrupted, 422),
  busy: e(unavailable, 503),
  no_leader: e(unavailable, 503),
  shutting_down: e(unavailable, 503),
  server_exited: e(failure, 500),
  worker_crashed: e(failure, 500),
  login_failed: e(unavailable, 503),
  no_page: e(unavailable, 503),
  demo_failed: e(failure, 500),

  // ---- Cloud protocol refusals (the Error message; src/protocol/codec.ts, frame.ts) ----------
  unknown_type: e(failure, 502),
  wrong_cluster: e(failure, 502),
  bad_metadata: e(failure, 502),
  invalid_message: e(failure, 502),
  bad_binary: e(failure, 502),
  bad_magic: e(failure, 502),
  unsupported_version: e(failure, 502),
  bad_epoch: e(failure, 502),
  bad_meta_length: e(failure, 502),
  oversize_frame: e(failure, 502),
  oversize_meta: e(failure, 502),
  truncated_frame: e(failure, 502),

  // ---- Directory (src/directory/errors.ts; on the wire in DirectoryResponse) -----------------
  directory_bad_url: e(usage, 400),
  directory_unavailable: e(unavailable, 503),
  directory_bad_row: e(corrupted, 422),
  directory_migration_failed: e(failure, 500),
  directory_closed: e(failure, 500),
  directory_failure: e(failure, 500),
  invalid_argument: e(badInput, 400),
  denied: e(denied, 403),
  not_found: e(badInput, 404),
  conflict: e(badInput, 409),
  limit_exceeded: e(capacity, 422),
  directory_unreachable: e(unavailable, 503),
  bad_directory_answer: e(failure, 502),

  // ---- Stress campaigns and reports ---------------------------------------------------------
  netns_failed: e(failure, 500),
  too_many_images: e(badInput, 400),
  no_images: e(badInput, 400),
  run_dir_invalid: e(badInput, 400),
  run_dir_incomplete: e(badInput, 400),
  run_file_too_large: e(badInput, 400),

  // ---- The lab (src/lab) ----------------------------------------------------------------------
  /** Not Linux, not root, or ip/iptables missing. */
  lab_unsupported: e(usage, 400),
  lab_not_running: e(usage, 404),
  lab_running: e(usage, 409),
  lab_gone: e(failure, 500),
  lab_busy: e(unavailable, 503),
  lab_state_invalid: e(failure, 500),
  lab_host_config: e(usage, 400),
  lab_host_failed: e(unavailable, 503),
  lab_unknown_agent: e(usage, 404),
  lab_unknown_image: e(usage, 404),
  lab_control_failed: e(failure, 500),
  user_host_unreachable: e(unavailable, 503),
  already_signed_in: e(usage, 409),

  // ---- The peer agent ---------------------------------------------------------------------
  agent_answer_too_large: e(failure, 502),
  agent_bad_answer: e(failure, 502),
  agent_db_bad_row: e(corrupted, 422),
  agent_db_newer: e(failure, 500),
  agent_db_unusable: e(failure, 500),
  agent_events: e(failure, 500),
  agent_lock: e(failure, 500),
  agent_running: e(usage, 400),
  agent_unreachable: e(unavailable, 503),
  already_registered: e(usage, 409),
  /** Registering a username someone else holds in this cloud (the directory's `conflict`). */
  username_taken: e(badInput, 409),
  bad_data_dir: e(corrupted, 422),
  identity_mismatch: e(denied, 403),
  no_identity: e(usage, 400),
  not_signed_in: e(usage, 400),
  signed_out: e(unavailable, 409),
  copy_damaged: e(corrupted, 422),
  copy_not_a_copy: e(denied, 403),
  copy_tampered: e(denied, 403),
  copy_wrong_owner_key: e(denied, 403),
  copy_not_named: e(denied, 403),

  // ---- The agent's local HTTP API and page routes --------------------------------------------
  unauthorized: e(denied, 401),
  link_used: e(denied, 401),
  bad_host: e(denied, 421),
  bad_json: e(usage, 400),
  bad_path: e(usage, 400),
  path_too_long: e(usage, 414),
  no_route: e(usage, 404),
  method_not_allowed: e(usage, 405),
  not_here: e(usage, 409),
  body_too_large: e(badInput, 413),
  unsupported_media_type: e(usage, 415),
  rate_limited: e(usage, 429),

  // ---- Peer to peer (PeerError on the P2P wire; src/peer/p2p-session.ts) ---------------------
  peer_bad_reply: e(failure, 502),
  peer_closed: e(unavailable, 503),
  peer_offline: e(unavailable, 503),
  peer_timeout: e(unavailable, 503),
  peer_unreachable: e(unavailable, 503),
  bad_handshake: e(denied, 403),
  bad_range: e(badInput, 400),
  bad_reply: e(denied, 403),
  bad_signature: e(denied, 403),
  copy_changed: e(denied, 403),
  copy_corrupted: e(denied, 403),
  copy_too_large: e(denied, 403),
  key_changed: e(denied, 403),
  no_copy: e(denied, 403),
  stopping: e(unavailable, 503),
  too_many_connections: e(denied, 403),
  unsupported: e(badInput, 400),
  wrong_copy: e(denied, 403),
  /** The P2P connection's TLS certificate is not the named user's registered key. */
  wrong_key: e(denied, 403),
  wrong_peer: e(denied, 403),
  wrong_user: e(denied, 403),
} as const satisfies Record<string, CodeInfo>;

export type RegisteredErrorCode = keyof typeof ERROR_CODES;
/**
 * A refusal another user's agent sent us as PeerError, prefixed `peer_` (its own code is
 * checked against ERROR_CODE_PATTERN on receipt). Mapped by rule: see `infoOf`.
 */
export type RemotePeerErrorCode = `peer_${string}`;
export type ErrorCode = RegisteredErrorCode | RemotePeerErrorCode;

export function isRegisteredErrorCode(code: string): code is RegisteredErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

function infoOf(code: string): CodeInfo {
  if (isRegisteredErrorCode(code)) return ERROR_CODES[code];
  // A remote peer's refusal: a denial stays a denial, anything else is that peer's failure.
  if (code === 'peer_denied' || code === 'peer_bad_signature') return e(denied, 403);
  return e(failure, 502);
}

/** A code received from another process: itself when registered, else `fallback`. */
export function toErrorCode(code: string, fallback: RegisteredErrorCode): ErrorCode {
  return isRegisteredErrorCode(code) ? code : fallback;
}

/** The CLI exit code for an error code. */
export function exitCodeOf(code: string): ExitCodeValue {
  return infoOf(code).exit;
}

/** The HTTP status the agent's API answers an error code with. */
export function httpStatusOf(code: string): number {
  return infoOf(code).http;
}

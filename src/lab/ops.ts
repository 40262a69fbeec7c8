/**
 * The sharing operations the lab's workload asks agents to do, what each returns, and the record
 * kept of each. Types and small pure helpers only: the workload generator, the user-host runner
 * that carries them out, the checker and the report all use these.
 */

export const OP_KINDS = [
  'encrypt',
  'peers',
  'previews',
  'request',
  'more_views',
  'accept',
  'reject',
  'view',
  'set_quota',
  'revoke',
  'sign_out',
  'sign_in',
] as const;
export type OpKind = (typeof OP_KINDS)[number];

/** Operations that change shared state (a failure of one may or may not have been applied). */
export const MUTATING_KINDS: ReadonlySet<OpKind> = new Set([
  'encrypt',
  'request',
  'more_views',
  'accept',
  'reject',
  'view',
  'set_quota',
  'revoke',
]);

/** Operations of the sharing half of the mission (everything but encrypting and signing in/out). */
export const SHARING_KINDS: ReadonlySet<OpKind> = new Set([
  'peers',
  'previews',
  'request',
  'more_views',
  'accept',
  'reject',
  'view',
  'set_quota',
  'revoke',
]);

export type LabOp =
  | { kind: 'encrypt'; agent: string; image: string; title: string }
  | { kind: 'peers'; agent: string }
  | { kind: 'previews'; agent: string; owner: string }
  | { kind: 'request'; agent: string; owner: string; image_id: string; views: number }
  | { kind: 'more_views'; agent: string; owner: string; image_id: string; views: number }
  | { kind: 'accept'; agent: string; request_id: string }
  | { kind: 'reject'; agent: string; request_id: string }
  | { kind: 'view'; agent: string; owner: string; image_id: string }
  | { kind: 'set_quota'; agent: string; image_id: string; viewer: string; quota: number }
  | { kind: 'revoke'; agent: string; image_id: string; viewer: string }
  | { kind: 'sign_out'; agent: string }
  | { kind: 'sign_in'; agent: string };

export interface GrantState {
  quota: number;
  version: number;
  revoked: boolean;
  delivery: string;
}

/** What an operation returned, by kind (only what the checker and the report need). */
export type OpResult =
  | {
      kind: 'encrypt';
      image_id: string;
      server_id: number;
      reassignments: number;
      /** The agent's own copy, viewed back, gave the very bytes sent. */
      verified: boolean;
      verify_detail: string;
    }
  | { kind: 'peers'; online: number; images: number }
  | { kind: 'previews'; listed: number; fetched_bytes: number }
  | {
      kind: 'request' | 'more_views';
      request_id: string;
      request_kind: 'access' | 'more_views';
      owner_notified: boolean;
    }
  | { kind: 'accept' | 'reject'; request_id: string; status: string; grant: GrantState | null }
  | {
      kind: 'view';
      verdict: 'shown' | 'default';
      reason: string;
      views_left: number | null;
      quota: number | null;
      consumed: number | null;
      /** SHA-256 (hex) of what was shown. */
      sha256: string;
    }
  | ({ kind: 'set_quota' | 'revoke' } & GrantState)
  | { kind: 'sign_in' | 'sign_out' };

/** How one operation went, as the user host that carried it out saw it. */
export interface OpOutcome {
  /** Wall clock at the start (ms since the Unix epoch). */
  start_ms: number;
  /** Measured with the monotonic clock around the agent call. */
  latency_ms: number;
  ok: boolean;
  result: OpResult | null;
  error: { code: string; message: string } | null;
}

/** One line of ops.jsonl. */
export interface OpRecord extends OpOutcome {
  seq: number;
  op: LabOp;
  host: string;
  /** Whether the workload issued it while a fault was in force (kill, cut, silence). */
  during_fault: boolean;
}

/** An agent event as the user host saw it (one line of agent-events.jsonl). */
export interface AgentEventRecord {
  at_ms: number;
  host: string;
  agent: string;
  event: { type: string } & Record<string, unknown>;
}

/** True when a failed mutating operation may still have taken effect (no answer, not a refusal). */
export function outcomeUnknown(record: Pick<OpRecord, 'ok' | 'op' | 'error'>): boolean {
  if (record.ok || !MUTATING_KINDS.has(record.op.kind)) return false;
  const code = record.error?.code ?? '';
  return !DEFINITE_REFUSALS.has(code);
}

/** Error codes that mean "refused, nothing changed". */
const DEFINITE_REFUSALS = new Set([
  'denied',
  'not_found',
  'conflict',
  'invalid_argument',
  'limit_exceeded',
  'usage',
  'already_signed_in',
  'signed_out',
  'not_signed_in',
  'peer_offline',
  'lab_unknown_agent',
  'lab_unknown_image',
]);

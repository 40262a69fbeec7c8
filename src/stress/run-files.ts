/**
 * The files of a stress run directory and their record types. `cloudp2p stress` writes them,
 * `cloudp2p report` reads them (and checks every line, since a run directory may come from an
 * older version or be edited by hand):
 *
 *   run.json       the configuration, start/end times and totals (written at the end; a
 *                  partial one at the start so an interrupted run is still identified)
 *   records.jsonl  one line per request (StressRecord)
 *   events.jsonl   one line per event: failures injected, failures healed, leader changes and
 *                  failure-simulation silences seen by polling /status (StressEvent)
 *   servers/       server configs and logs
 */
import { createWriteStream, type WriteStream } from 'node:fs';

export const RUN_FILES = {
  run: 'run.json',
  records: 'records.jsonl',
  events: 'events.jsonl',
} as const;

export type RequestOutcome = 'ok' | 'failed' | 'verify_failed';

export interface StressRecord {
  client: string;
  task_id: string;
  image: string;
  /** The server whose result was delivered; null if none was. */
  server: number | null;
  /** Every server the task was assigned to, in order. */
  servers: number[];
  /** Wall clock (ms since the Unix epoch) when the request was submitted / its result arrived. */
  start_ms: number;
  end_ms: number;
  /** Submit to result, measured with the monotonic clock (verification excluded). */
  latency_ms: number;
  outcome: RequestOutcome;
  /** A short machine-readable reason for a failure (deadline, refused, verify_failed...). */
  reason: string | null;
  error: string | null;
  /** How many times the task moved to another server. */
  reassignments: number;
  /** "Every server busy" answers the client waited out and retried. */
  busy_retries: number;
  /** True when the task was delivered by a server other than the first one it was given to. */
  failover: boolean;
  /** Time spent extracting and comparing the hidden image (in the verifier thread). */
  verify_ms: number | null;
  /** Results for this task that differed from the delivered one (must stay 0). */
  conflicts: number;
}

export type StressEventKind =
  | 'run_start'
  | 'load_start'
  | 'load_end'
  | 'run_end'
  | 'kill'
  | 'restart'
  | 'pause'
  | 'resume'
  | 'partition'
  | 'heal'
  | 'silence_start'
  | 'silence_end'
  | 'leader_lost'
  | 'leader_elected'
  | 'split_leaders'
  | 'injector_error'
  | 'note';

export interface StressEvent {
  /** Wall clock, ms since the Unix epoch. */
  at_ms: number;
  kind: StressEventKind;
  /** The server concerned, if any. */
  server?: number | null;
  /** Which injector did it (e.g. "kill-leader"), or "observer" for what polling saw. */
  source: string;
  detail?: string;
  /** For leader events: the leader, its epoch, and how long the cloud had no agreed leader. */
  leader?: number | null;
  epoch?: number | null;
  leaderless_ms?: number | null;
  /** For failures: whether the target was the leader at that moment. */
  was_leader?: boolean;
}

/** Appends JSON lines; `close()` resolves when everything is on disk. */
export class JsonLinesWriter<T> {
  private readonly stream: WriteStream;
  count = 0;

  constructor(path: string) {
    this.stream = createWriteStream(path, { flags: 'a' });
  }

  write(value: T): void {
    this.count++;
    this.stream.write(`${JSON.stringify(value)}\n`);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.stream.end(resolve));
  }
}

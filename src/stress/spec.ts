/**
 * Parsing of the stress tool's failure-injection specs and durations. A spec is
 * `kind:key=value,key=value`, for example
 *
 *   kill:target=leader,every=30s,restart-after=5s   kill -9 the leader every 30 s, restart it 5 s later
 *   kill:target=random,at=20s                       once, 20 s after the load starts
 *   pause:target=random,every=45s,for=5s            SIGSTOP, SIGCONT 5 s later
 *   partition:target=2,at=20s,for=20s               cut server 2 off the other servers (netns)
 *   failure-sim:interval=30s,max-silence=20s        the servers' own failure simulation
 *
 * Times count from the start of the load. Targets: leader, follower, random or a server id.
 */
import { UsageError } from '../util/errors.js';

export type FaultKind = 'kill' | 'pause' | 'partition';
export type FaultTarget = 'leader' | 'follower' | 'random' | number;
/** Who a partitioned server stops hearing: the other servers only, or clients too. */
export type PartitionScope = 'servers' | 'all';

export interface FaultSpec {
  kind: FaultKind;
  /** A readable name for logs and the report, e.g. "kill-leader". */
  name: string;
  target: FaultTarget;
  /** First injection, ms after the load starts. */
  first_ms: number;
  /** Repeat period, or null for once. */
  every_ms: number | null;
  /** At most this many injections (null: until the load ends). */
  count: number | null;
  /** kill: restart after this long (null: stay down); pause/partition: how long it lasts. */
  duration_ms: number | null;
  scope: PartitionScope;
}

export interface FailureSimSpec {
  kind: 'failure-sim';
  name: 'failure-sim';
  interval_ms: number;
  max_silence_ms: number;
}

export type InjectorSpec = FaultSpec | FailureSimSpec;

export const LIMITS = {
  min_period_ms: 1000,
  max_time_ms: 24 * 3600 * 1000,
  max_count: 100_000,
  max_spec_chars: 300,
} as const;

const DEFAULT_KILL_RESTART_MS = 5000;
const DEFAULT_PAUSE_MS = 5000;
const DEFAULT_PARTITION_MS = 20_000;

/** "30s", "500ms", "2m", "1.5h" or a plain number of seconds, to milliseconds. */
export function parseDuration(text: string, what: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match)
    throw new UsageError(
      `${what}: ${JSON.stringify(text)} is not a duration; use e.g. 500ms, 30s, 2m or a number of seconds`,
    );
  const value = Number(match[1]);
  const unit = match[2] ?? 's';
  const ms = value * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit as 'ms' | 's' | 'm' | 'h'];
  if (ms > LIMITS.max_time_ms)
    throw new UsageError(`${what}: ${text} is longer than the limit of 24 h`);
  return ms;
}

export function parseInjectorSpec(text: string): InjectorSpec {
  if (text.length > LIMITS.max_spec_chars)
    throw new UsageError(`--inject spec is longer than ${LIMITS.max_spec_chars} characters`);
  const colon = text.indexOf(':');
  const kind = (colon < 0 ? text : text.slice(0, colon)).trim();
  const params = parseParams(colon < 0 ? '' : text.slice(colon + 1), text);
  const where = `--inject ${text}`;
  switch (kind) {
    case 'failure-sim':
    case 'failure-simulation': {
      const spec: FailureSimSpec = {
        kind: 'failure-sim',
        name: 'failure-sim',
        interval_ms: take(params, 'interval', (v) => parseDuration(v, where), 30_000),
        max_silence_ms: take(params, 'max-silence', (v) => parseDuration(v, where), 20_000),
      };
      rejectLeftovers(params, where, ['interval', 'max-silence']);
      if (spec.interval_ms < LIMITS.min_period_ms || spec.max_silence_ms < LIMITS.min_period_ms)
        throw new UsageError(`${where}: interval and max-silence must be at least 1s`);
      return spec;
    }
    case 'kill':
    case 'pause':
    case 'partition':
      return parseFault(kind, params, where);
    default:
      throw new UsageError(
        `${where}: unknown failure kind ${JSON.stringify(kind)}; use kill, pause, partition or failure-sim`,
      );
  }
}

function parseFault(kind: FaultKind, params: Map<string, string>, where: string): FaultSpec {
  const target = take(params, 'target', parseTarget(where), 'random' as FaultTarget);
  const at = take(params, 'at', (v) => parseDuration(v, where), null as number | null);
  const every = take(params, 'every', (v) => parseDuration(v, where), null as number | null);
  const first = take(params, 'first', (v) => parseDuration(v, where), null as number | null);
  const count = take(params, 'count', (v) => parseCount(v, where), null as number | null);
  const durationKey = kind === 'kill' ? 'restart-after' : 'for';
  const fallback =
    kind === 'kill'
      ? DEFAULT_KILL_RESTART_MS
      : kind === 'pause'
        ? DEFAULT_PAUSE_MS
        : DEFAULT_PARTITION_MS;
  const duration = take(
    params,
    durationKey,
    (v) => (kind === 'kill' && v === 'never' ? null : parseDuration(v, where)),
    fallback as number | null,
  );
  const scope = take(
    params,
    'scope',
    (v) => {
      if (kind !== 'partition') throw new UsageError(`${where}: scope applies to partition only`);
      if (v !== 'servers' && v !== 'all')
        throw new UsageError(`${where}: scope must be servers or all, not ${JSON.stringify(v)}`);
      return v;
    },
    'servers' as PartitionScope,
  );
  rejectLeftovers(params, where, [
    'target',
    'at',
    'every',
    'first',
    'count',
    durationKey,
    ...(kind === 'partition' ? ['scope'] : []),
  ]);
  if (at !== null && (every !== null || first !== null))
    throw new UsageError(`${where}: use either at= (once) or every= (with optional first=)`);
  if (at === null && every === null)
    throw new UsageError(`${where}: say when: at=20s (once) or every=30s`);
  if (every !== null && every < LIMITS.min_period_ms)
    throw new UsageError(`${where}: every= must be at least 1s`);
  if (kind !== 'kill' && duration !== null && duration < 100)
    throw new UsageError(`${where}: for= must be at least 100ms`);
  return {
    kind,
    name: `${kind}-${typeof target === 'number' ? `server${target}` : target}`,
    target,
    first_ms: at ?? first ?? (every as number),
    every_ms: at !== null ? null : every,
    count: at !== null ? 1 : count,
    duration_ms: duration,
    scope,
  };
}

function parseParams(text: string, whole: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const part of text.split(',')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    if (eq < 1) throw new UsageError(`--inject ${whole}: expected key=value, got ${part}`);
    const key = part.slice(0, eq).trim();
    if (params.has(key)) throw new UsageError(`--inject ${whole}: ${key} is given twice`);
    params.set(key, part.slice(eq + 1).trim());
  }
  return params;
}

function take<T>(
  params: Map<string, string>,
  key: string,
  parse: (value: string) => T,
  fallback: T,
): T {
  const value = params.get(key);
  return value === undefined ? fallback : parse(value);
}

function rejectLeftovers(params: Map<string, string>, where: string, allowed: string[]): void {
  for (const key of params.keys())
    if (!allowed.includes(key))
      throw new UsageError(`${where}: unknown key ${key}; allowed: ${allowed.join(', ')}`);
}

function parseTarget(where: string): (value: string) => FaultTarget {
  return (value) => {
    if (value === 'leader' || value === 'follower' || value === 'random') return value;
    const id = Number(value);
    if (Number.isSafeInteger(id) && id >= 1 && id <= 999) return id;
    throw new UsageError(
      `${where}: target must be leader, follower, random or a server id, not ${JSON.stringify(value)}`,
    );
  };
}

function parseCount(value: string, where: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1 || n > LIMITS.max_count)
    throw new UsageError(`${where}: count must be an integer 1..${LIMITS.max_count}`);
  return n;
}

/** Injection times (ms after load start) of a fault before `until_ms`. */
export function injectionTimes(spec: FaultSpec, until_ms: number): number[] {
  const times: number[] = [];
  for (let t = spec.first_ms; t < until_ms; t += spec.every_ms ?? Infinity) {
    times.push(t);
    if (spec.every_ms === null || (spec.count !== null && times.length >= spec.count)) break;
  }
  return times;
}

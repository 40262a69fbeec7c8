/**
 * What a lab campaign does to whole hosts while the workload runs, from `--inject` specs:
 *
 *   kill:host=cloud-2,at=60s,revive-after=90s   kill -9 every process on cloud-2, start it again 90 s later
 *   kill:host=leader,at=60s                     the cloud host of the leader at that moment (not revived)
 *   cut:host=cloud-3,at=150s,for=20s            drop every packet to and from cloud-3 for 20 s
 *
 * `host` is a host name (cloud-1..3, users-1..3), `leader` or `follower` (a cloud host by its
 * server's role then). Times count from the start of the workload. The course's failure
 * simulation is a setting of the servers (`--failure-simulation`), not an injection.
 */
import { parseDuration } from '../stress/spec.js';
import { UsageError } from '../util/errors.js';

export type HostTarget = string | 'leader' | 'follower';

export interface HostFault {
  kind: 'kill' | 'cut';
  host: HostTarget;
  at_ms: number;
  /** kill: revive after this long (null: stays down until the end); cut: how long. */
  duration_ms: number | null;
  /** For logs and the report: `kill-cloud-2`. */
  name: string;
}

const HOST = /^(cloud|users)-\d{1,2}$/;

export function parseHostFault(text: string): HostFault {
  const where = `--inject ${text}`;
  if (text.length > 200) throw new UsageError(`${where}: longer than 200 characters`);
  const colon = text.indexOf(':');
  const kind = colon < 0 ? text : text.slice(0, colon);
  if (kind !== 'kill' && kind !== 'cut')
    throw new UsageError(`${where}: unknown kind ${JSON.stringify(kind)}; use kill or cut`);
  const params = new Map<string, string>();
  for (const part of (colon < 0 ? '' : text.slice(colon + 1)).split(',')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    if (eq < 1) throw new UsageError(`${where}: expected key=value, got ${part}`);
    const key = part.slice(0, eq).trim();
    if (params.has(key)) throw new UsageError(`${where}: ${key} is given twice`);
    params.set(key, part.slice(eq + 1).trim());
  }
  const durationKey = kind === 'kill' ? 'revive-after' : 'for';
  for (const key of params.keys())
    if (!['host', 'at', durationKey].includes(key))
      throw new UsageError(`${where}: unknown key ${key}; allowed: host, at, ${durationKey}`);
  const host = params.get('host');
  if (!host || !(host === 'leader' || host === 'follower' || HOST.test(host)))
    throw new UsageError(`${where}: host= must be cloud-1..3, users-1..3, leader or follower`);
  const at = params.get('at');
  if (at === undefined) throw new UsageError(`${where}: say when with at=…, e.g. at=60s`);
  const duration = params.get(durationKey);
  const duration_ms =
    duration === undefined
      ? kind === 'cut'
        ? 20_000
        : null
      : duration === 'never' && kind === 'kill'
        ? null
        : parseDuration(duration, where);
  if (duration_ms !== null && duration_ms < 1000)
    throw new UsageError(`${where}: ${durationKey} must be at least 1s`);
  return { kind, host, at_ms: parseDuration(at, where), duration_ms, name: `${kind}-${host}` };
}

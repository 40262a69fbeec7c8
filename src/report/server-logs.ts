/**
 * Leader changes as the servers themselves logged them (servers/logs/server-<id>.log in a run
 * directory): "won election ... epoch=4.3" and "leader acknowledged leader=3 epoch=4.3", with
 * their timestamps. The observer's /status polling gives an upper bound that includes its own
 * polling delay on a busy machine; the logs say when each server actually switched. Lines in any
 * other format are ignored, so a change of log format only loses this refinement.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface LeaderLogEntry {
  at_ms: number;
  server: number;
  kind: 'won' | 'acknowledged';
  leader: number;
  /** The epoch label as logged, e.g. "4.3". */
  epoch: string;
}

/** Logs larger than this are skipped (the refinement is optional). */
const MAX_LOG_BYTES = 256 * 1024 * 1024;
const WON = /^(\S+Z) \w+\s+server-(\d+) won election\b.*\bepoch=(\d+\.\d+)/;
const ACK =
  /^(\S+Z) \w+\s+server-(\d+) leader acknowledged\b.*\bleader=(\d+)\b.*\bepoch=(\d+\.\d+)/;

export function parseLeaderLogLine(line: string): LeaderLogEntry | null {
  const won = WON.exec(line);
  if (won) {
    const at_ms = Date.parse(won[1] as string);
    const server = Number(won[2]);
    return Number.isFinite(at_ms)
      ? { at_ms, server, kind: 'won', leader: server, epoch: won[3] as string }
      : null;
  }
  const ack = ACK.exec(line);
  if (ack) {
    const at_ms = Date.parse(ack[1] as string);
    return Number.isFinite(at_ms)
      ? {
          at_ms,
          server: Number(ack[2]),
          kind: 'acknowledged',
          leader: Number(ack[3]),
          epoch: ack[4] as string,
        }
      : null;
  }
  return null;
}

export function readLeaderLogs(runDir: string): LeaderLogEntry[] {
  const dir = join(runDir, 'servers', 'logs');
  if (!existsSync(dir)) return [];
  const entries: LeaderLogEntry[] = [];
  for (const name of readdirSync(dir)) {
    if (!/^server-\d+\.log$/.test(name)) continue;
    const path = join(dir, name);
    if (statSync(path).size > MAX_LOG_BYTES) continue;
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      const entry = parseLeaderLogLine(line);
      if (entry) entries.push(entry);
    }
  }
  return entries.sort((a, b) => a.at_ms - b.at_ms);
}

/** "4.3" for the numeric epoch 4003 (term * 1000 + server id, see src/core/epoch.ts). */
export function epochLabel(epoch: number): string {
  return `${Math.floor(epoch / 1000)}.${epoch % 1000}`;
}

/**
 * When every server other than `excluded` that switched to `leader` in `epoch` had done so,
 * according to their logs (the leader's own "won election" included); null if none logged it.
 * `until_ms` bounds the search (a server restarted later acknowledges much later: not counted).
 */
export function lastSwitchAt(
  logs: readonly LeaderLogEntry[],
  leader: number,
  epoch: number,
  from_ms: number,
  until_ms: number,
  excluded: ReadonlySet<number>,
): number | null {
  const label = epochLabel(epoch);
  let last: number | null = null;
  const seen = new Set<number>();
  for (const entry of logs) {
    if (entry.at_ms < from_ms || entry.at_ms > until_ms) continue;
    if (entry.leader !== leader || entry.epoch !== label || excluded.has(entry.server)) continue;
    if (seen.has(entry.server)) continue;
    seen.add(entry.server);
    last = entry.at_ms;
  }
  return last;
}

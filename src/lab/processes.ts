/**
 * The lab's processes outlive the command that started them (a lab stays up between `cloudp2p
 * lab` invocations, like machines). Each is started detached inside its host's namespace with
 * its output in a log file, and remembered by pid and start time: a pid the kernel reused for
 * something else is never signalled.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { BridgeNetwork } from '../netns/bridge-network.js';

export interface ProcessRecord {
  /** What it is: `server`, `galera`, `agents`. */
  role: string;
  pid: number;
  /** /proc/<pid>/stat start time (clock ticks since boot): tells a reused pid apart. */
  start_ticks: number;
  log: string;
}

/** The start time of `pid`, or null when it does not run (a zombie does not run). */
export function processStartTicks(pid: number): number | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: fields count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return null;
  const ticks = Number(fields[19]);
  return Number.isSafeInteger(ticks) ? ticks : null;
}

/** Whether the process recorded in `record` still runs (the same process, not a reused pid). */
export function isRunning(record: Pick<ProcessRecord, 'pid' | 'start_ticks'>): boolean {
  return processStartTicks(record.pid) === record.start_ticks;
}

/** kill -9 of a recorded process if it still is that process; true when signalled. */
export function killRecorded(record: Pick<ProcessRecord, 'pid' | 'start_ticks'>): boolean {
  if (!isRunning(record)) return false;
  try {
    process.kill(record.pid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts `command` inside `namespace`, detached (its own process group, not a child that dies
 * with us), stdout and stderr appended to `log`.
 */
export function spawnInNamespace(
  namespace: string,
  role: string,
  command: readonly string[],
  log: string,
  env: NodeJS.ProcessEnv = {},
): ProcessRecord {
  const fd = openSync(log, 'a', 0o600);
  try {
    const full = [...BridgeNetwork.launchPrefix(namespace), ...command];
    const child = spawn(full[0] as string, full.slice(1), {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, ...env },
    });
    child.unref();
    const pid = child.pid;
    if (pid === undefined) throw new Error(`could not start ${role} in ${namespace}`);
    // `ip netns exec` execs in place, so this pid is the program itself once it started.
    return { role, pid, start_ticks: processStartTicks(pid) ?? 0, log };
  } finally {
    closeSync(fd);
  }
}

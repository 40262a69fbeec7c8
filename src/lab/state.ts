/**
 * The lab's state file: what a lab created and started (namespaces, links, routes, processes,
 * its folder), so any later `cloudp2p lab` command can act on it, and `cloudp2p lab down`
 * removes everything even after the command that built the lab was killed with -9. It lives
 * in /run/cloudp2p-lab (root; gone at reboot, like the namespaces) or
 * $CLOUDP2P_LAB_STATE_DIR. Writes are atomic (write, then rename) and commands that change
 * the lab hold a lock file for the few milliseconds they need.
 */
import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { NetnsResources } from '../netns/resources.js';
import { CloudP2PError, ExitCode, errorMessage } from '../util/errors.js';
import type { ProcessRecord } from './processes.js';
import { processAlive } from '../util/process.js';

export type HostState = 'up' | 'killed' | 'cut';

export interface LabOptions {
  /** 1-3 user hosts (the course has 3; CI uses 1). */
  user_hosts: number;
  agents_per_host: number;
  /** How the servers reach the directory. */
  directory: 'galera' | 'sqlite';
  failure_simulation: { interval_secs: number; max_silence_secs: number } | null;
}

export interface LabState {
  version: 1;
  lab: number;
  /** The pid of the command that created the lab (informational). */
  created_by: number;
  created_at: string;
  /** `starting` until every host is up; a lab left `starting` was interrupted. */
  status: 'starting' | 'running';
  /** The lab's folder: configs, data, logs. Removed by `lab down`. */
  dir: string;
  options: LabOptions;
  resources: NetnsResources;
  hosts: Record<string, { state: HostState; since: string; processes: ProcessRecord[] }>;
  /** URL the servers use for the directory (password included: the file is root's, 0600). */
  directory_url: string;
}

export function stateDir(): string {
  const dir = process.env.CLOUDP2P_LAB_STATE_DIR ?? '/run/cloudp2p-lab';
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

export function statePath(lab: number): string {
  return join(stateDir(), `lab-${lab}.json`);
}

export function readState(lab: number): LabState | null {
  let text: string;
  try {
    text = readFileSync(statePath(lab), 'utf8');
  } catch {
    return null;
  }
  try {
    const state = JSON.parse(text) as LabState;
    if (state?.version !== 1 || state.lab !== lab) throw new Error('not a lab state file');
    return state;
  } catch (err) {
    throw new CloudP2PError(
      'lab_state_invalid',
      `${statePath(lab)} is not a lab state file (${errorMessage(err)}); remove it, then run cloudp2p lab down --lab ${lab} to clean up by name`,
      ExitCode.failure,
    );
  }
}

export function writeState(state: LabState): void {
  const path = statePath(state.lab);
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, path);
}

export function removeState(lab: number): void {
  rmSync(statePath(lab), { force: true });
}

const LOCK_WAIT_MS = 30_000;

/**
 * Runs `task` holding the lab's lock (a file created exclusively, holding our pid; a lock whose
 * holder died is taken over). Short critical sections only: read, change, write the state.
 */
export async function withLabLock<T>(lab: number, task: () => Promise<T> | T): Promise<T> {
  const path = join(stateDir(), `lab-${lab}.lock`);
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch {
      const holder = Number(readText(path));
      if (Number.isSafeInteger(holder) && holder > 0 && !processAlive(holder)) {
        rmSync(path, { force: true });
        continue;
      }
      if (Date.now() > deadline)
        throw new CloudP2PError(
          'lab_busy',
          `lab ${lab} is locked by process ${holder} for over ${LOCK_WAIT_MS / 1000} s (${path})`,
          ExitCode.unavailable,
        );
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  try {
    return await task();
  } finally {
    rmSync(path, { force: true });
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/**
 * Leftover protection. Every stress run writes an owner file (its pid, the server processes it
 * started, the network namespaces and links it created) into a registry folder and removes it
 * when it ends. A run that dies without cleaning up (kill -9, power loss) leaves its file
 * behind; the next run finds it, sees the owner is gone, and removes what it lists: it kills
 * the server processes (only if they still are cloudp2p servers, so a recycled pid is safe) and
 * deletes the namespaces, links and routes. Runs going on at the same time are left alone.
 */
import {
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
  openSync,
  closeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { destroyNetnsResources, type NetnsResources as Created } from '../netns/resources.js';
import { processAlive } from '../util/process.js';

/** What a run's namespace network created, and its slot. */
export interface NetnsResources extends Created {
  slot: number;
}

export interface OwnerRecord {
  pid: number;
  started_at: string;
  run_dir: string;
  server_pids: number[];
  netns: NetnsResources | null;
}

export function registryDir(): string {
  const dir =
    process.env.CLOUDP2P_STRESS_REGISTRY ??
    (process.platform === 'linux' && process.getuid?.() === 0
      ? '/run/cloudp2p-stress'
      : join(tmpdir(), 'cloudp2p-stress'));
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** The owner file of this process; kept up to date as servers start and resources appear. */
export class OwnerFile {
  readonly path: string;
  private record: OwnerRecord;

  constructor(runDir: string) {
    this.path = join(registryDir(), `owner-${process.pid}.json`);
    this.record = {
      pid: process.pid,
      started_at: new Date().toISOString(),
      run_dir: runDir,
      server_pids: [],
      netns: null,
    };
    this.save();
  }

  addServerPid(pid: number | undefined): void {
    if (pid === undefined || this.record.server_pids.includes(pid)) return;
    this.record.server_pids.push(pid);
    this.save();
  }

  setNetns(resources: NetnsResources | null): void {
    this.record.netns = resources;
    this.save();
  }

  remove(): void {
    rmSync(this.path, { force: true });
  }

  private save(): void {
    // Write then rename, so a reader never sees half a file.
    const temporary = `${this.path}.tmp`;
    writeFileSync(temporary, JSON.stringify(this.record));
    renameSync(temporary, this.path);
  }
}

/**
 * Claims a network slot (1..200) no other live run holds; the slot picks the subnet and the
 * names, so concurrent runs never collide. Returns the slot and a release function.
 */
export function claimSlot(): { slot: number; release: () => void } {
  const dir = registryDir();
  for (let slot = 1; slot <= 200; slot++) {
    const path = join(dir, `slot-${slot}`);
    try {
      const fd = openSync(path, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      return { slot, release: () => rmSync(path, { force: true }) };
    } catch {
      const owner = Number(readText(path));
      if (Number.isSafeInteger(owner) && owner > 0 && !processAlive(owner)) {
        rmSync(path, { force: true });
        slot--; // try the same slot again
      }
    }
  }
  throw new Error('no free network slot: 200 stress runs with namespaces seem to be running');
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** Removes what runs that died left behind; returns a line per thing removed. */
export function cleanupStaleRuns(): string[] {
  const dir = registryDir();
  const removed: string[] = [];
  for (const name of readdirSync(dir)) {
    if (!/^owner-\d+\.json$/.test(name)) continue;
    let record: OwnerRecord;
    try {
      record = JSON.parse(readFileSync(join(dir, name), 'utf8')) as OwnerRecord;
    } catch {
      continue; // being written right now, or not ours
    }
    if (record.pid === process.pid || processAlive(record.pid)) continue;
    for (const pid of record.server_pids) {
      if (isCloudp2pServer(pid)) {
        try {
          process.kill(pid, 'SIGKILL');
          removed.push(`killed leftover server process ${pid} of run ${record.run_dir}`);
        } catch {
          // already gone
        }
      }
    }
    if (record.netns) removed.push(...destroyNetnsResources(record.netns));
    rmSync(join(dir, name), { force: true });
    rmSync(join(dir, `slot-${record.netns?.slot ?? 0}`), { force: true });
  }
  return removed;
}

function isCloudp2pServer(pid: number): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmdline.some((part) => part.endsWith('main.js')) && cmdline.includes('server');
  } catch {
    return false;
  }
}

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OwnerFile, claimSlot, cleanupStaleRuns } from '../../../src/stress/owners.js';
import { processAlive } from '../../../src/util/process.js';

describe('owner files and slots', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cp2p-owners-'));
    process.env.CLOUDP2P_STRESS_REGISTRY = dir;
  });
  afterEach(() => {
    delete process.env.CLOUDP2P_STRESS_REGISTRY;
    rmSync(dir, { recursive: true, force: true });
  });

  it('records our pid and server pids, and removes the file at the end', () => {
    const owner = new OwnerFile('/tmp/run');
    owner.addServerPid(1234);
    const record = JSON.parse(readFileSync(owner.path, 'utf8')) as {
      pid: number;
      server_pids: number[];
    };
    expect(record.pid).toBe(process.pid);
    expect(record.server_pids).toEqual([1234]);
    owner.remove();
    expect(existsSync(owner.path)).toBe(false);
  });

  it('gives concurrent runs different slots and takes back slots of dead owners', () => {
    const a = claimSlot();
    const b = claimSlot();
    expect(b.slot).not.toBe(a.slot);
    a.release();
    const c = claimSlot();
    expect(c.slot).toBe(a.slot);
    // b's owner dies (a pid that cannot exist): its slot is free again, c's (ours, alive) is not.
    writeFileSync(join(dir, `slot-${b.slot}`), '999999999');
    expect(claimSlot().slot).toBe(b.slot);
  });

  it('cleans up after an owner that died, and leaves live owners alone', () => {
    expect(processAlive(process.pid)).toBe(true);
    const dead = {
      pid: 999999999,
      started_at: '',
      run_dir: '/tmp/x',
      server_pids: [999999998],
      netns: null,
    };
    writeFileSync(join(dir, 'owner-999999999.json'), JSON.stringify(dead));
    const live = { ...dead, pid: process.ppid };
    writeFileSync(join(dir, `owner-${process.ppid}.json`), JSON.stringify(live));
    cleanupStaleRuns();
    expect(existsSync(join(dir, 'owner-999999999.json'))).toBe(false);
    expect(existsSync(join(dir, `owner-${process.ppid}.json`))).toBe(true);
  });
});

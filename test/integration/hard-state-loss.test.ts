/**
 * A cloud whose hard-state files are all lost never reuses an epoch (docs/ELECTION.md,
 * "Bounded terms"): real server processes, the state file deleted between two runs.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { startTestCluster, type TestCluster } from './helpers/cluster-fixture.js';

// Real processes on a shared, busy machine: generous limits (nothing waits on them).
vi.setConfig({ testTimeout: 180_000, hookTimeout: 180_000 });

let tc: TestCluster | null = null;

afterAll(async () => {
  await tc?.cleanup();
});

describe('losing every hard-state file', () => {
  it('a restarted cloud leads in an epoch above every one it had before', async () => {
    tc = await startTestCluster({ size: 1 });
    const first = await tc.cluster.waitForLeader(60_000);
    await tc.cluster.stopAll();
    const stateFile = join(tc.dir, 'data', 'server-1', 'hard-state.json');
    expect(existsSync(stateFile)).toBe(true);
    rmSync(stateFile);
    await tc.cluster.startAll();
    const second = await tc.cluster.waitForLeader(60_000);
    expect(second.epoch).toBeGreaterThan(first.epoch);
  });
});

/**
 * Short versions of the stress campaigns (docs/RESULTS.md, "Stress campaigns"), run through the
 * real CLI against real server processes: a few hundred requests with one failure of each kind,
 * every result verified, then the report. The netns partition needs Linux and root (CI has both);
 * elsewhere it is skipped with the reason printed.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalCluster } from '../../src/server/local-cluster.js';
import type { RunInfo } from '../../src/stress/campaign.js';
import { netnsSupport } from '../../src/stress/netns.js';
import { cleanupStaleRuns, registryDir, type OwnerRecord } from '../../src/stress/owners.js';
import type { StressEvent, StressRecord } from '../../src/stress/run-files.js';
import { packagePath } from '../../src/util/package-info.js';
import { Signal } from '../helpers/signal.js';
import {
  DEADLINE,
  TEST_TIMEOUT_MS,
  eventually,
  fileChanges,
  sampling,
} from './helpers/cluster-fixture.js';
import { processAlive } from '../../src/util/process.js';

const run = promisify(execFile);
const CLI = packagePath('dist', 'cli', 'main.js');
const RUN_TIMEOUT_MS = 240_000;
const root = mkdtempSync(join(tmpdir(), 'cp2p-stress-it-'));

afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Light, steady load so the test is about failures, not about how busy the CI machine is. */
const LOAD = ['--clients', '20', '--rate', '20', '--duration', '16s', '--task-deadline', '90s'];

async function stress(
  name: string,
  args: string[],
): Promise<{
  dir: string;
  stdout: string;
  info: RunInfo;
  records: StressRecord[];
  events: StressEvent[];
}> {
  const dir = join(root, name);
  const { stdout } = await run(process.execPath, [CLI, 'stress', '--out', dir, ...LOAD, ...args], {
    timeout: RUN_TIMEOUT_MS,
    maxBuffer: 16 * 1024 * 1024,
  }).catch((err: { stdout?: string; stderr?: string; code?: number }) => {
    throw new Error(
      `stress ${name} exited ${err.code}: ${err.stdout ?? ''}\n${(err.stderr ?? '').slice(-4000)}`,
    );
  });
  return { dir, stdout, ...readRun(dir) };
}

function readRun(dir: string): { info: RunInfo; records: StressRecord[]; events: StressEvent[] } {
  const lines = (file: string): string[] =>
    readFileSync(join(dir, file), 'utf8').split('\n').filter(Boolean);
  return {
    info: JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as RunInfo,
    records: lines('records.jsonl').map((l) => JSON.parse(l) as StressRecord),
    events: lines('events.jsonl').map((l) => JSON.parse(l) as StressEvent),
  };
}

/**
 * Nothing lost: every request the driver sent has a record, each a verified result, each task
 * once. How many requests that is depends on the machine's speed, so it is not checked.
 */
function expectEverythingVerified(records: StressRecord[], info: RunInfo): void {
  expect(records.length).toBeGreaterThan(0);
  expect(records.length).toBe(info.totals?.requests);
  const bad = records.filter((r) => r.outcome !== 'ok');
  expect(bad, JSON.stringify(bad.slice(0, 3))).toEqual([]);
  expect(new Set(records.map((r) => r.task_id)).size).toBe(records.length);
  expect(info.totals).toMatchObject({ failed: 0, verify_failed: 0, conflicts: 0, lost: 0 });
  expect(info.final?.agreed_leader).not.toBeNull();
  expect(info.status).toBe('finished');
}

/**
 * The cloud went on answering after a failure at `at_ms`: a verified result came back after it.
 * The load runs on past every planned failure, so whether requests were in flight at that
 * moment or were sent after it, some answer must end later.
 */
function expectServedAfter(records: StressRecord[], at_ms: number | undefined): void {
  expect(at_ms).toBeDefined();
  const after = records.filter((r) => r.outcome === 'ok' && r.end_ms > (at_ms ?? Infinity));
  expect(after.length, `no verified result after the failure at ${at_ms}`).toBeGreaterThan(0);
}

/** Waits for `pattern` on the output a child writes (collected by `read`), for failure only. */
async function waitForOutput(
  child: ChildProcess,
  read: () => string,
  pattern: RegExp,
  deadline_ms: number,
): Promise<void> {
  const signal = new Signal();
  child.stderr?.on('data', () => signal.changed());
  child.once('exit', () => signal.changed());
  await signal.until(
    () => pattern.test(read()) || child.exitCode !== null,
    `${pattern} from cloudp2p stress`,
    deadline_ms,
  );
  if (!pattern.test(read()))
    throw new Error(`cloudp2p stress exited first: ${read().slice(-4000)}`);
}

function serverLogsShowExit(dir: string): void {
  const logs = join(dir, 'servers', 'logs');
  for (const file of readdirSync(logs))
    expect(readFileSync(join(logs, file), 'utf8')).toMatch(/--- process exited/);
}

describe('stress campaigns, short versions', () => {
  let killRunDir = '';

  it(
    'kill -9 of the leader (restarted) and SIGSTOP of a follower: every result verified',
    async () => {
      const { dir, info, records, events } = await stress('kill-pause', [
        '--inject',
        'kill:target=leader,at=4s,restart-after=3s',
        '--inject',
        'pause:target=follower,at=10s,for=3s',
      ]);
      killRunDir = dir;
      expectEverythingVerified(records, info);
      const kill = events.find((e) => e.kind === 'kill');
      expect(kill).toMatchObject({ was_leader: true, source: 'kill-leader' });
      expectServedAfter(records, kill?.at_ms);
      expectServedAfter(records, events.find((e) => e.kind === 'pause')?.at_ms);
      expect(events.some((e) => e.kind === 'restart' && e.server === kill?.server)).toBe(true);
      expect(events.some((e) => e.kind === 'pause')).toBe(true);
      expect(events.some((e) => e.kind === 'resume')).toBe(true);
      const newLeader = events.find(
        (e) => e.kind === 'leader_elected' && e.at_ms > (kill?.at_ms ?? 0),
      );
      expect(newLeader?.leader).not.toBe(kill?.server);
      expect(newLeader?.leaderless_ms).toBeGreaterThan(0);
      expect(existsSync(join(dir, 'report.md'))).toBe(true);
      serverLogsShowExit(dir);
    },
    RUN_TIMEOUT_MS + 10_000,
  );

  it(
    'the built-in failure simulation silences a server: nothing lost, the silence logged',
    async () => {
      const { info, records, events } = await stress('failure-sim', [
        '--inject',
        'failure-sim:interval=7s,max-silence=4s',
      ]);
      expectEverythingVerified(records, info);
      expect(events.some((e) => e.kind === 'silence_start' && e.source === 'failure-sim')).toBe(
        true,
      );
      expect(info.cloud.failure_simulation).toEqual({ interval_ms: 7000, max_silence_ms: 4000 });
    },
    RUN_TIMEOUT_MS + 10_000,
  );

  it('cloudp2p report rebuilds the report of a run and prints the verdict', async () => {
    expect(killRunDir).not.toBe('');
    rmSync(join(killRunDir, 'report.md'));
    const { stdout } = await run(process.execPath, [CLI, 'report', killRunDir], {
      timeout: 60_000,
    });
    expect(stdout).toMatch(/pass {2}every request verified/);
    expect(stdout).toMatch(/pass {2}one agreed leader at the end/);
    const markdown = readFileSync(join(killRunDir, 'report.md'), 'utf8');
    expect(markdown).toContain('## Verdict: PASS');
    expect(markdown).toMatch(/kill \(kill-leader\) \| \d+ \| yes/);
    for (const chart of ['throughput', 'latency-histogram', 'per-server', 'stalls'])
      expect(readFileSync(join(killRunDir, 'charts', `${chart}.svg`), 'utf8')).toMatch(/^<svg/);
  }, 70_000);

  it(
    'a netns partition isolates one server, then heals: one leader, nothing lost, nothing left behind',
    async (context) => {
      const support = await netnsSupport();
      if (!support.ok) {
        console.warn(`SKIPPED netns partition test: ${support.reason}`);
        context.skip();
        return;
      }
      const { info, records, events } = await stress('partition', [
        '--inject',
        'partition:target=random,at=4s,for=6s',
      ]);
      expectEverythingVerified(records, info);
      const partition = events.find((e) => e.kind === 'partition');
      expect(partition).toBeDefined();
      expectServedAfter(records, partition?.at_ms);
      expect(events.some((e) => e.kind === 'heal' && e.server === partition?.server)).toBe(true);
      expect(info.cloud.netns).not.toBeNull();
      const slot = info.cloud.netns?.slot;
      const { stdout: namespaces } = await run('ip', ['netns', 'list']);
      expect(namespaces).not.toMatch(new RegExp(`cp2p-${slot}-s`));
      const { stdout: links } = await run('ip', ['link', 'show']);
      expect(links).not.toMatch(new RegExp(`cp2pbr${slot}\\b`));
    },
    RUN_TIMEOUT_MS + 10_000,
  );

  it(
    'Ctrl-C stops the load, stops every server and records the run as interrupted',
    async () => {
      const dir = join(root, 'interrupted');
      const child = spawn(
        process.execPath,
        [CLI, 'stress', '--out', dir, ...LOAD.slice(0, 4), '--duration', '120s', '--no-report'],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      await waitForOutput(child, () => stderr, /cloud of 3 servers up/, DEADLINE.start_ms);
      // Interrupt only once the load runs: a first verified result is on disk.
      const records = join(dir, 'records.jsonl');
      const loading = await eventually(
        () => existsSync(records) && readFileSync(records, 'utf8').includes('\n'),
        DEADLINE.progress_ms,
        [fileChanges(records)],
      );
      expect(loading, stderr.slice(-4000)).toBe(true);
      child.kill('SIGINT');
      const code = await exited;
      expect(code).toBe(130);
      const { info } = readRun(dir);
      expect(info.status).toBe('interrupted');
      expect(readRun(dir).records.length).toBeGreaterThan(0);
      serverLogsShowExit(dir);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a driver killed with -9 leaves servers (and namespaces) behind; the next run removes them',
    async () => {
      const dir = join(root, 'killed-driver');
      const netns = (await netnsSupport()).ok;
      const child = spawn(
        process.execPath,
        [
          CLI,
          'stress',
          '--out',
          dir,
          ...LOAD.slice(0, 4),
          '--duration',
          '120s',
          '--no-report',
          ...(netns ? ['--netns'] : []),
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise((resolve) => child.once('exit', resolve));
      await waitForOutput(child, () => stderr, /cloud of 3 servers up/, DEADLINE.start_ms);
      const ownerPath = join(registryDir(), `owner-${child.pid}.json`);
      const owner = JSON.parse(readFileSync(ownerPath, 'utf8')) as OwnerRecord;
      expect(owner.server_pids).toHaveLength(3);
      child.kill('SIGKILL');
      await exited;
      expect(owner.server_pids.every(processAlive)).toBe(true); // orphaned, still running
      const removed = cleanupStaleRuns();
      expect(removed.filter((line) => line.startsWith('killed leftover server'))).toHaveLength(3);
      expect(existsSync(ownerPath)).toBe(false);
      expect(
        await eventually(
          () => !owner.server_pids.some(processAlive),
          DEADLINE.progress_ms,
          // Orphans killed by the cleanup: their exit is reported to init, not to this process.
          [sampling(50)],
        ),
      ).toBe(true);
      if (netns) {
        expect(removed.some((line) => line.startsWith('deleted network namespace'))).toBe(true);
        const { stdout } = await run('ip', ['netns', 'list']);
        expect(stdout).not.toMatch(new RegExp(`cp2p-${owner.netns?.slot}-s`));
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'drives a cloud that already runs (--attach) without starting or stopping it',
    async () => {
      const cluster = await LocalCluster.generate({ dir: join(root, 'existing-cloud'), size: 3 });
      try {
        await cluster.startAll();
        await cluster.waitForLeader(DEADLINE.start_ms);
        const dir = join(root, 'attached');
        await run(
          process.execPath,
          [
            CLI,
            'stress',
            '--attach',
            '--server-config',
            ...cluster.members.map((m) => m.configPath),
            '--out',
            dir,
            '--requests',
            '60',
            '--clients',
            '6',
          ],
          { timeout: RUN_TIMEOUT_MS },
        );
        const { info, records } = readRun(dir);
        expect(records.filter((r) => r.outcome === 'ok')).toHaveLength(60);
        expect(info.final?.agreed_leader).not.toBeNull();
        expect(cluster.members.every((m) => cluster.isRunning(m.id))).toBe(true);
        const refused = await run(
          process.execPath,
          [
            CLI,
            'stress',
            '--attach',
            '--server-config',
            cluster.members[0]?.configPath ?? '',
            '--out',
            join(root, 'refused'),
            '--inject',
            'kill:at=1s',
          ],
          { timeout: 60_000 },
        ).catch((err: { code?: number; stderr?: string }) => err);
        expect(refused).toMatchObject({ code: 2 });
        expect((refused as { stderr?: string }).stderr).toMatch(
          /need the servers started by this run/,
        );
      } finally {
        await cluster.stopAll();
      }
    },
    RUN_TIMEOUT_MS + 60_000,
  );
});

/**
 * `npm run bench:cli`: the wait a person feels before a `cloudp2p` command does anything.
 *
 * Times, in interleaved rounds (the machine is shared and noisy, so every round runs each
 * command once, in turn), the wall-clock time of whole processes:
 *
 *   node -e 0                         a bare Node start: the floor
 *   cloudp2p --help
 *   cloudp2p peer status              with the user's agent running (after `peer login`)
 *   cloudp2p peer status (one-shot)   a registered user with no agent running
 *
 * against a one-server local cloud (real process, SQLite directory) and real agents. Target:
 * `--help` and `peer status` (agent running) within 0.25 s of `node -e 0` (median).
 *
 * BENCH_CLI_BASELINE=<path to another build's dist/cli/main.js> times that build's `--help`
 * and `peer status` in the same rounds (e.g. the build before a change), side by side.
 * Environment: BENCH_RUNS (default 15).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { LocalCluster } from '../src/server/local-cluster.js';
import { packagePath } from '../src/util/package-info.js';
import { median, quantileSorted } from '../src/util/stats.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const CLI = packagePath('dist', 'cli', 'main.js');
const BASELINE = process.env.BENCH_CLI_BASELINE;
const run = promisify(execFile);

interface Case {
  name: string;
  args: string[];
  times_ms: number[];
}

async function timed(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const started = performance.now();
  await run(process.execPath, args, { env, maxBuffer: 1 << 20 });
  return performance.now() - started;
}

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cloudp2p-bench-cli-'));
  const cluster = await LocalCluster.generate({
    dir,
    size: 1,
    directoryUrl: 'sqlite:directory.sqlite',
    thread_pool_size: 1,
  });
  const env = { ...process.env, CLOUDP2P_CLOUD_CA: cluster.caPath ?? '', LOG_LEVEL: 'error' };
  const alice = join(dir, 'alice');
  const bob = join(dir, 'bob');
  const peer = (cli: string, dataDir: string, ...rest: string[]): string[] => [
    cli,
    'peer',
    '--data-dir',
    dataDir,
    ...rest,
  ];
  try {
    await cluster.startAll();
    await cluster.waitForLeader(60_000);
    const servers = cluster.addresses.join(',');
    await run(process.execPath, [...peer(CLI, alice, '--servers', servers), 'register', 'alice'], {
      env,
    });
    await run(process.execPath, [...peer(CLI, bob, '--servers', servers), 'register', 'bob'], {
      env,
    });
    await run(process.execPath, peer(CLI, alice, 'login'), { env });

    const cases: Case[] = [
      { name: 'node -e 0', args: ['-e', '0'], times_ms: [] },
      { name: 'cloudp2p --help', args: [CLI, '--help'], times_ms: [] },
      {
        name: 'cloudp2p peer status (agent running)',
        args: peer(CLI, alice, 'status'),
        times_ms: [],
      },
      {
        name: 'cloudp2p peer status (no agent: one-shot)',
        args: peer(CLI, bob, 'status'),
        times_ms: [],
      },
    ];
    if (BASELINE)
      cases.push(
        { name: 'baseline --help', args: [BASELINE, '--help'], times_ms: [] },
        {
          name: 'baseline peer status (agent running)',
          args: peer(BASELINE, alice, 'status'),
          times_ms: [],
        },
      );
    for (const c of cases) await timed(c.args, env); // warm the file cache
    for (let round = 0; round < RUNS; round++)
      for (const c of cases) c.times_ms.push(await timed(c.args, env));

    const floor = median(cases[0]?.times_ms ?? []);
    log(`node ${process.version}, ${RUNS} interleaved rounds, wall-clock per process`);
    log(
      `${'command'.padEnd(44)} ${'median'.padStart(8)} ${'p90'.padStart(8)} ${'- node -e 0'.padStart(12)} ${'ratio'.padStart(6)}`,
    );
    for (const c of cases) {
      const sorted = [...c.times_ms].sort((a, b) => a - b);
      const m = median(sorted);
      log(
        `${c.name.padEnd(44)} ${`${m.toFixed(0)} ms`.padStart(8)} ${`${quantileSorted(sorted, 0.9).toFixed(0)} ms`.padStart(8)} ${`${(m - floor).toFixed(0)} ms`.padStart(12)} ${(m / floor).toFixed(2).padStart(6)}`,
      );
    }
    log('target: --help and peer status (agent running) within 250 ms of node -e 0');
  } finally {
    await run(process.execPath, peer(CLI, alice, 'logout'), { env }).catch(() => undefined);
    await cluster.stopAll(10_000);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();

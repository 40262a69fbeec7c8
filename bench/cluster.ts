/**
 * `npm run bench:cluster`: what distribution costs, measured in one run on this machine.
 *
 * 1. Engine: one process, a worker pool with one thread per core, saturated with tasks.
 * 2. Cloud: three real server processes (one worker thread each) on the same cores, saturated
 *    by clients with a bounded number of tasks in flight. Ratio cloud / engine (target >= 0.8).
 * 3. Latency at a fixed rate below saturation (half the cloud's measured throughput).
 * 4. Failover: the same fixed-rate load, kill -9 of the leader, and the client-visible stall,
 *    with the shipped fast settings and with the seed's 1 s / 3 s settings.
 *
 * 6. What transport security costs: the cloud with TLS (the default) and the same cloud with
 *    --insecure-plaintext-for-benchmark, side by side: throughput in alternating rounds, and
 *    BENCH_FAILOVERS leader kills (fast settings, default 3) on each, alternating, each on a
 *    fresh cloud (one kill per side is too noisy to compare). Target: TLS >= 90% of plaintext
 *    throughput, failover no slower (medians). `npm run bench:cluster -- --tls-cost-only` runs
 *    this phase alone.
 *
 * Same images everywhere (assets/samples/photo.jpg, ~108 KB JPEG hidden in the default cover).
 * Results are printed and written to runs/bench-cluster-<time>.json.
 * Environment: BENCH_TASKS (default 400), BENCH_ROUNDS (default 3), BENCH_FIXED_SECS (default 15),
 * BENCH_FAILOVERS (default 3).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CloudClient } from '../src/client/cloud-client.js';
import { buildTaskPayload } from '../src/client/payload.js';
import { createEncryptExecutor } from '../src/server/encrypt-executor.js';
import { LocalCluster, type GenerateOptions } from '../src/server/local-cluster.js';
import { packagePath } from '../src/util/package-info.js';
import { median, summarize } from '../src/util/stats.js';

const TASKS = Number(process.env.BENCH_TASKS ?? 400);
const FIXED_SECS = Number(process.env.BENCH_FIXED_SECS ?? 15);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const FAILOVERS = Number(process.env.BENCH_FAILOVERS ?? 3);
/** USER_HZ: /proc reports CPU time in these ticks (100 on Linux). */
const CLOCK_TICKS_PER_SECOND = 100;
const CORES = availableParallelism();
const IMAGE = new Uint8Array(readFileSync(packagePath('assets', 'samples', 'photo.jpg')));
const PAYLOAD = buildTaskPayload(IMAGE);

interface TaskTiming {
  start_ms: number;
  end_ms: number;
  ok: boolean;
  server: number | null;
  reassignments: number;
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** The servers' heartbeat-timer delay histogram (cumulative bucket counts by upper bound, s). */
async function timerDelayBuckets(cluster: LocalCluster): Promise<Map<string, number>> {
  const total = new Map<string, number>();
  for (const member of cluster.members) {
    const text = await (await fetch(`${member.httpUrl}/metrics`)).text();
    for (const match of text.matchAll(
      /^cloudp2p_heartbeat_send_delay_seconds_bucket\{le="([^"]+)"\} (\d+)$/gm,
    )) {
      total.set(match[1] as string, (total.get(match[1] as string) ?? 0) + Number(match[2]));
    }
  }
  return total;
}

/** From two histogram readings: the bound below which every delay in between fell (ms), and how many were late by more than 100 ms. */
function delayBetween(
  before: Map<string, number>,
  after: Map<string, number>,
): { worst_bucket_ms: number; over_100ms: number; timers: number } {
  const bounds = [...after.keys()]
    .filter((le) => le !== '+Inf')
    .map(Number)
    .sort((a, b) => a - b);
  const count = (le: string): number => (after.get(le) ?? 0) - (before.get(le) ?? 0);
  const timers = count('+Inf');
  const worst = bounds.find((b) => count(String(b)) === timers);
  return {
    worst_bucket_ms: worst === undefined ? Infinity : worst * 1000,
    over_100ms: timers - count('0.1'),
    timers,
  };
}

/** CPU seconds (user + system) used so far by a process, from /proc (Linux). */
function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** CPU seconds used by this process and the given ones: what a phase cost, whatever else runs. */
function cpuSeconds(pids: number[]): number {
  return [process.pid, ...pids].reduce((total, pid) => total + processCpuSeconds(pid), 0);
}

/** The engine alone: a warmed worker pool in this process, one thread per core. */
async function startEngine(
  threads: number,
): Promise<{ run(tasks: number): Promise<number>; close(): Promise<void> }> {
  const executor = await createEncryptExecutor({
    threads,
    maxQueue: 10_000,
    coverPath: undefined,
    jobTimeout_ms: 60_000,
  });
  // Warm every worker (its cover PNG cache) before timing.
  await Promise.all(
    Array.from({ length: threads * 2 }, () => executor.start(PAYLOAD, () => undefined).result),
  );
  return {
    async run(tasks: number): Promise<number> {
      const started = performance.now();
      await Promise.all(
        Array.from({ length: tasks }, () => executor.start(PAYLOAD, () => undefined).result),
      );
      return tasks / ((performance.now() - started) / 1000);
    },
    close: () => executor.close(1000),
  };
}

async function startCloud(
  dir: string,
  options: Omit<GenerateOptions, 'dir'>,
): Promise<LocalCluster> {
  const cluster = await LocalCluster.generate({ ...options, dir }, { env: { LOG_LEVEL: 'warn' } });
  await cluster.startAll();
  await cluster.waitForLeader(30_000);
  return cluster;
}

async function connectClients(
  cluster: LocalCluster,
  count: number,
  prefix: string,
): Promise<CloudClient[]> {
  const servers = cluster.addresses.map((a) => ({
    host: a.split(':')[0] as string,
    port: Number(a.split(':')[1]),
  }));
  return Promise.all(
    Array.from({ length: count }, (_, i) =>
      CloudClient.connect({
        clientId: `${prefix}-${i}`,
        servers,
        taskDeadline_ms: 120_000,
        trust: cluster.clientTrust,
      }),
    ),
  );
}

async function one(client: CloudClient, taskId: string, timings: TaskTiming[]): Promise<void> {
  const start_ms = performance.now();
  try {
    const result = await client.encrypt(taskId, PAYLOAD);
    timings.push({
      start_ms,
      end_ms: performance.now(),
      ok: true,
      server: result.serverId,
      reassignments: result.reassignments,
    });
  } catch {
    timings.push({
      start_ms,
      end_ms: performance.now(),
      ok: false,
      server: null,
      reassignments: 0,
    });
  }
}

/** Closed loop: `inFlight` tasks per client, `tasks` in total. */
async function cloudThroughput(
  clients: CloudClient[],
  prefix: string,
  tasks: number,
  inFlight: number,
): Promise<{ perSecond: number; timings: TaskTiming[] }> {
  const timings: TaskTiming[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    clients.flatMap((client, c) =>
      Array.from({ length: inFlight }, async () => {
        while (next < tasks) await one(client, `${prefix}-${c}-${next++}`, timings);
      }),
    ),
  );
  return { perSecond: tasks / ((performance.now() - started) / 1000), timings };
}

/** Open loop at `rate` per second for `secs`, optionally calling `during` at `duringAt_ms`. */
async function fixedRate(
  clients: CloudClient[],
  prefix: string,
  rate: number,
  secs: number,
  during?: { at_ms: number; run: () => Promise<void> },
): Promise<{ timings: TaskTiming[]; event_ms: number | null }> {
  const timings: TaskTiming[] = [];
  const pending: Promise<void>[] = [];
  const started = performance.now();
  const total = Math.round(rate * secs);
  let event_ms: number | null = null;
  let fired = false;
  for (let n = 0; n < total; n++) {
    const due = started + (n * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    if (during && !fired && performance.now() - started >= during.at_ms) {
      fired = true;
      event_ms = performance.now();
      void during.run();
    }
    pending.push(one(clients[n % clients.length] as CloudClient, `${prefix}-${n}`, timings));
  }
  await Promise.all(pending);
  return { timings, event_ms };
}

function latencies(timings: TaskTiming[]): number[] {
  return timings.filter((t) => t.ok).map((t) => t.end_ms - t.start_ms);
}

interface Failover {
  settings: string;
  leader_killed: number;
  new_leader: number;
  agreed_after_ms: number;
  baseline_p50_ms: number;
  max_latency_ms: number;
  stall_ms: number;
  longest_completion_gap_ms: number;
  tasks: number;
  failed: number;
  reassigned: number;
}

async function failover(
  label: string,
  dir: string,
  timings: Omit<GenerateOptions, 'dir' | 'size'>,
  rate: number,
): Promise<Failover> {
  const cluster = await startCloud(dir, {
    size: 3,
    thread_pool_size: 1,
    max_queue_size: 1000,
    ...timings,
  });
  const clients = await connectClients(cluster, 4, `fo-${label}`);
  try {
    const before = await cluster.waitForLeader(30_000);
    const warm = await fixedRate(clients, `fo-${label}-warm`, rate, 4);
    const baseline = summarize(latencies(warm.timings)).p50;
    let agreed_after_ms = NaN;
    let newLeader = 0;
    const run = await fixedRate(clients, `fo-${label}`, rate, 12, {
      at_ms: 3000,
      run: async () => {
        const killed_at = performance.now();
        await cluster.kill(before.leader);
        const elected = await cluster.waitForLeader(30_000);
        agreed_after_ms = performance.now() - killed_at;
        newLeader = elected.leader;
      },
    });
    const kill = run.event_ms as number;
    const affected = run.timings.filter((t) => t.end_ms >= kill && t.start_ms <= kill + 5000);
    const maxLatency = Math.max(...affected.map((t) => t.end_ms - t.start_ms));
    const ends = run.timings
      .map((t) => t.end_ms)
      .filter((e) => e >= kill - 1000)
      .sort((a, b) => a - b);
    let gap = 0;
    for (let i = 1; i < ends.length; i++)
      gap = Math.max(gap, (ends[i] as number) - (ends[i - 1] as number));
    return {
      settings: label,
      leader_killed: before.leader,
      new_leader: newLeader,
      agreed_after_ms: Math.round(agreed_after_ms),
      baseline_p50_ms: Math.round(baseline),
      max_latency_ms: Math.round(maxLatency),
      stall_ms: Math.round(maxLatency - baseline),
      longest_completion_gap_ms: Math.round(gap),
      tasks: run.timings.length,
      failed: run.timings.filter((t) => !t.ok).length,
      reassigned: run.timings.filter((t) => t.reassignments > 0).length,
    };
  } finally {
    clients.forEach((c) => c.close());
    await cluster.stopAll(5000);
  }
}

interface TlsCost {
  rounds: Array<{ tls: number; plaintext: number }>;
  tls_images_per_s: number;
  plaintext_images_per_s: number;
  tls_over_plaintext: number;
  tls_cpu_ms_per_image: number;
  plaintext_cpu_ms_per_image: number;
  /** Every kill, in the order run (sides alternating). */
  failovers_tls: Failover[];
  failovers_plaintext: Failover[];
  /** Medians over the kills of each side. */
  stall_ms: { tls: number; plaintext: number };
  agreed_after_ms: { tls: number; plaintext: number };
  failed: { tls: number; plaintext: number };
}

/** Phase 6: the same cloud with and without TLS, alternating rounds, then failover on each. */
async function tlsCost(root: string): Promise<TlsCost> {
  const base = { size: 3, thread_pool_size: 1, max_queue_size: 1000 };
  const secured = await startCloud(join(root, 'tls'), base);
  const plain = await startCloud(join(root, 'plain'), {
    ...base,
    insecurePlaintextForBenchmark: true,
  });
  const sides = [
    { name: 'tls', cluster: secured, clients: await connectClients(secured, 3, 'tls') },
    { name: 'plaintext', cluster: plain, clients: await connectClients(plain, 3, 'plain') },
  ];
  const rates = { tls: [] as number[], plaintext: [] as number[] };
  const cpu = { tls: 0, plaintext: 0 };
  const perRound = Math.round(TASKS / ROUNDS);
  try {
    for (const side of sides) await cloudThroughput(side.clients, `${side.name}-warm`, 30, 4);
    for (let r = 0; r < ROUNDS; r++) {
      // Alternate which side goes first, so drift on the machine hits both.
      for (const side of r % 2 === 0 ? sides : [...sides].reverse()) {
        const pids = side.cluster.members.map((m) => side.cluster.pid(m.id) as number);
        const before = cpuSeconds(pids);
        const result = await cloudThroughput(side.clients, `${side.name}${r}`, perRound, 4);
        cpu[side.name as 'tls'] += cpuSeconds(pids) - before;
        if (result.timings.some((t) => !t.ok))
          throw new Error(`tasks failed on the ${side.name} cloud; the figures would be wrong`);
        rates[side.name as 'tls'].push(result.perSecond);
      }
      log(
        `    round ${r + 1}: TLS ${rates.tls[r]?.toFixed(1)} images/s, plaintext ${rates.plaintext[r]?.toFixed(1)} images/s (${(((rates.tls[r] as number) / (rates.plaintext[r] as number)) * 100).toFixed(0)}%)`,
      );
    }
  } finally {
    for (const side of sides) {
      side.clients.forEach((c) => c.close());
      await side.cluster.stopAll(5000);
    }
  }
  const tls = median(rates.tls);
  const plaintext = median(rates.plaintext);
  const failoverRate = Math.max(1, Math.floor(Math.min(tls, plaintext) * 0.3));
  const kills = { tls: [] as Failover[], plaintext: [] as Failover[] };
  for (let k = 0; k < FAILOVERS; k++) {
    // Alternate which side goes first, as for throughput.
    for (const plain of k % 2 === 0 ? [false, true] : [true, false]) {
      const name = plain ? 'plaintext' : 'tls';
      const result = await failover(
        `fast-${name}`,
        join(root, `fo-${name}-${k}`),
        plain ? { insecurePlaintextForBenchmark: true } : {},
        failoverRate,
      );
      kills[name].push(result);
      log(`    ${name} failover ${k + 1}/${FAILOVERS}: ${JSON.stringify(result)}`);
    }
  }
  const medianOf = (key: 'stall_ms' | 'agreed_after_ms') => ({
    tls: Math.round(median(kills.tls.map((f) => f[key]))),
    plaintext: Math.round(median(kills.plaintext.map((f) => f[key]))),
  });
  const failedOf = (list: Failover[]): number => list.reduce((n, f) => n + f.failed, 0);
  const perImage = (seconds: number): number => round((1000 * seconds) / (ROUNDS * perRound), 2);
  return {
    rounds: rates.tls.map((t, i) => ({
      tls: round(t),
      plaintext: round(rates.plaintext[i] as number),
    })),
    tls_images_per_s: round(tls),
    plaintext_images_per_s: round(plaintext),
    tls_over_plaintext: round(tls / plaintext, 3),
    tls_cpu_ms_per_image: perImage(cpu.tls),
    plaintext_cpu_ms_per_image: perImage(cpu.plaintext),
    failovers_tls: kills.tls,
    failovers_plaintext: kills.plaintext,
    stall_ms: medianOf('stall_ms'),
    agreed_after_ms: medianOf('agreed_after_ms'),
    failed: { tls: failedOf(kills.tls), plaintext: failedOf(kills.plaintext) },
  };
}

function tlsCostTable(cost: TlsCost): string[] {
  return [
    `| TLS / plaintext throughput (median of ${ROUNDS} alternating rounds) | ${cost.tls_images_per_s} / ${cost.plaintext_images_per_s} images/s = ${cost.tls_over_plaintext} (target >= 0.9) |`,
    `| server CPU per image: TLS / plaintext | ${cost.tls_cpu_ms_per_image} / ${cost.plaintext_cpu_ms_per_image} ms |`,
    `| kill -9 leader, TLS: stall / agreed leader after (median of ${FAILOVERS}) | ${cost.stall_ms.tls} / ${cost.agreed_after_ms.tls} ms (stalls ${cost.failovers_tls.map((f) => f.stall_ms).join(', ')}) |`,
    `| kill -9 leader, plaintext: stall / agreed leader after (median of ${FAILOVERS}) | ${cost.stall_ms.plaintext} / ${cost.agreed_after_ms.plaintext} ms (stalls ${cost.failovers_plaintext.map((f) => f.stall_ms).join(', ')}) |`,
    `| failover stall TLS / plaintext (medians) | ${round(cost.stall_ms.tls / cost.stall_ms.plaintext, 2)} (target <= 1) |`,
    `| failed tasks (TLS, plaintext failovers) | ${cost.failed.tls}, ${cost.failed.plaintext} |`,
  ];
}

async function tlsCostOnly(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'cloudp2p-bench-tls-'));
  try {
    log(
      `TLS cost: 3 servers x 1 worker thread, 3 clients x 4 in flight, ${ROUNDS} rounds of ${Math.round(TASKS / ROUNDS)} tasks per side`,
    );
    const cost = await tlsCost(root);
    const report = { date: new Date().toISOString(), cores: CORES, tasks: TASKS, tls_cost: cost };
    mkdirSync(packagePath('runs'), { recursive: true });
    const out = packagePath('runs', `bench-tls-${report.date.replace(/[:.]/g, '-')}.json`);
    writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(
      [
        '',
        '| measure | value |',
        '| --- | --- |',
        ...tlsCostTable(cost),
        '',
        `written to ${out}`,
        '',
      ].join('\n'),
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'cloudp2p-bench-cluster-'));
  try {
    log(
      `machine: ${CORES} cores; ${TASKS} tasks per throughput phase; hidden image ${IMAGE.length} bytes`,
    );
    // Engine and cloud take turns, ROUNDS times each, so a burst of other activity on the
    // machine hits both sides of the ratio instead of one.
    log(
      `1-2/5 engine (one process, one worker thread per core) and cloud (3 server processes, 1 worker thread each, 3 clients x 4 in flight), alternating ${ROUNDS} rounds of ${Math.round(TASKS / ROUNDS)} tasks`,
    );
    const engineRunner = await startEngine(CORES);
    const cluster = await startCloud(join(root, 'cloud'), {
      size: 3,
      thread_pool_size: 1,
      max_queue_size: 1000,
    });
    const clients = await connectClients(cluster, 3, 'tp');
    await cloudThroughput(clients, 'warm', 30, 4); // warm-up: workers' cover caches, connections
    const engineRates: number[] = [];
    const cloudRates: number[] = [];
    const cloudTimings: TaskTiming[] = [];
    const serverPids = cluster.members.map((m) => cluster.pid(m.id) as number);
    let engineCpu = 0;
    const timerDelays: ReturnType<typeof delayBetween>[] = [];
    let cloudCpu = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const before = cpuSeconds([]);
      engineRates.push(await engineRunner.run(Math.round(TASKS / ROUNDS)));
      engineCpu += cpuSeconds([]) - before;
      const beforeCloud = cpuSeconds(serverPids);
      const bucketsBefore = await timerDelayBuckets(cluster);
      const result = await cloudThroughput(clients, `tp${round}`, Math.round(TASKS / ROUNDS), 4);
      cloudCpu += cpuSeconds(serverPids) - beforeCloud;
      const delays = delayBetween(bucketsBefore, await timerDelayBuckets(cluster));
      timerDelays.push(delays);
      cloudRates.push(result.perSecond);
      cloudTimings.push(...result.timings);
      log(
        `    round ${round + 1}: engine ${engineRates[round]?.toFixed(1)} images/s, cloud ${result.perSecond.toFixed(1)} images/s (${((result.perSecond / (engineRates[round] as number)) * 100).toFixed(0)}%)`,
      );
    }
    await engineRunner.close();
    const perTask = (cpu: number): number => (1000 * cpu) / (ROUNDS * Math.round(TASKS / ROUNDS));
    const engineCpuPerImage_ms = perTask(engineCpu);
    const cloudCpuPerImage_ms = perTask(cloudCpu);
    log(
      `    CPU per image: engine ${engineCpuPerImage_ms.toFixed(1)} ms, cloud (servers + clients) ${cloudCpuPerImage_ms.toFixed(1)} ms: distribution costs ${((1 - engineCpuPerImage_ms / cloudCpuPerImage_ms) * 100).toFixed(0)}% of the cloud's CPU`,
    );
    const engine = median(engineRates);
    const cloud = { perSecond: median(cloudRates), timings: cloudTimings };
    const failed = cloud.timings.filter((t) => !t.ok).length;
    if (failed > 0)
      throw new Error(`${failed} tasks failed in the throughput phase; the figures would be wrong`);
    // Heartbeat timer delays while the cloud ran flat out (not while the engine hogged the cores).
    const heartbeatDelayMax_ms = Math.max(...timerDelays.map((d) => d.worst_bucket_ms));
    const heartbeatsLate = timerDelays.reduce((n, d) => n + d.over_100ms, 0);
    const heartbeatTimers = timerDelays.reduce((n, d) => n + d.timers, 0);
    log(
      `    heartbeat timers at full cloud load: all ${heartbeatTimers} fired within ${heartbeatDelayMax_ms} ms of schedule; ${heartbeatsLate} later than 100 ms`,
    );
    const share = new Map<number, number>();
    for (const t of cloud.timings)
      if (t.server !== null) share.set(t.server, (share.get(t.server) ?? 0) + 1);
    log(
      `    ${cloud.perSecond.toFixed(1)} images/s (cloud/engine ${(cloud.perSecond / engine).toFixed(2)}); share ${[...share].map(([s, n]) => `${s}:${n}`).join(' ')}`,
    );

    const rate = Math.max(1, Math.floor(cloud.perSecond * 0.5));
    log(`3/5 latency at a fixed ${rate}/s (half the cloud's throughput) for ${FIXED_SECS} s`);
    const fixed = await fixedRate(clients, 'fixed', rate, FIXED_SECS);
    const latency = summarize(latencies(fixed.timings));
    log(
      `    p50 ${latency.p50.toFixed(1)} ms, p99 ${latency.p99.toFixed(1)} ms, max ${latency.max.toFixed(1)} ms`,
    );
    clients.forEach((c) => c.close());
    await cluster.stopAll(5000);

    log(
      `4/5 failover at 30% load, shipped fast settings (heartbeat 0.25 s, failure timeout 1 s), kill -9 of the leader`,
    );
    // Failover "under load" at 30% of the cloud's throughput, so the stall is not queueing.
    const failoverRate = Math.max(1, Math.floor(cloud.perSecond * 0.3));
    const fast = await failover('fast', join(root, 'fast'), {}, failoverRate);
    log(`    ${JSON.stringify(fast)}`);
    log(`5/5 failover, seed settings (heartbeat 1 s, election 2 s, failure 3 s, monitor 1 s)`);
    const seed = await failover(
      'seed',
      join(root, 'seed'),
      {
        heartbeat_interval_secs: 1,
        election_timeout_secs: 2,
        failure_timeout_secs: 3,
        monitor_interval_secs: 1,
      },
      failoverRate,
    );
    log(`    ${JSON.stringify(seed)}`);
    log('6/6 TLS cost: the same cloud with TLS and with --insecure-plaintext-for-benchmark');
    const tls_cost = await tlsCost(join(root, 'tls-cost'));

    const report = {
      date: new Date().toISOString(),
      cores: CORES,
      tasks: TASKS,
      engine_images_per_s: round(engine),
      cloud_images_per_s: round(cloud.perSecond),
      cloud_over_engine: round(cloud.perSecond / engine, 3),
      engine_cpu_ms_per_image: round(engineCpuPerImage_ms, 2),
      cloud_cpu_ms_per_image: round(cloudCpuPerImage_ms, 2),
      cpu_efficiency: round(engineCpuPerImage_ms / cloudCpuPerImage_ms, 3),
      rounds: engineRates.map((e, i) => ({
        engine: round(e),
        cloud: round(cloudRates[i] as number),
      })),
      cloud_share: Object.fromEntries(share),
      heartbeat_timer_delay_bound_ms: heartbeatDelayMax_ms,
      heartbeat_timers: heartbeatTimers,
      heartbeat_timers_over_100ms: heartbeatsLate,
      fixed_rate_per_s: rate,
      fixed_latency_ms: {
        p50: round(latency.p50),
        p95: round(latency.p95),
        p99: round(latency.p99),
        max: round(latency.max),
        count: latency.count,
      },
      failover_fast: fast,
      failover_seed: seed,
      tls_cost,
    };
    mkdirSync(packagePath('runs'), { recursive: true });
    const out = packagePath('runs', `bench-cluster-${report.date.replace(/[:.]/g, '-')}.json`);
    writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(
      [
        '',
        '| measure | value |',
        '| --- | --- |',
        `| engine, 1 process × ${CORES} threads | ${report.engine_images_per_s} images/s |`,
        `| cloud, 3 processes × 1 thread | ${report.cloud_images_per_s} images/s |`,
        `| cloud / engine, throughput (median of ${ROUNDS} alternating rounds) | ${report.cloud_over_engine} (target >= 0.8) |`,
        `| CPU per image: engine / cloud (servers + clients) | ${report.engine_cpu_ms_per_image} / ${report.cloud_cpu_ms_per_image} ms = ${report.cpu_efficiency} |`,
        `| heartbeat timers at full cloud load: all within / later than 100 ms | ${report.heartbeat_timer_delay_bound_ms} ms / ${report.heartbeat_timers_over_100ms} of ${report.heartbeat_timers} |`,
        `| latency at ${rate}/s: p50 / p99 | ${report.fixed_latency_ms.p50} / ${report.fixed_latency_ms.p99} ms |`,
        `| kill -9 leader, fast settings: stall / agreed leader after | ${fast.stall_ms} / ${fast.agreed_after_ms} ms (target stall < 1500) |`,
        `| kill -9 leader, seed settings: stall / agreed leader after | ${seed.stall_ms} / ${seed.agreed_after_ms} ms |`,
        `| failed tasks (fast, seed) | ${fast.failed}, ${seed.failed} |`,
        ...tlsCostTable(tls_cost),
        '',
        `written to ${out}`,
        '',
      ].join('\n'),
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

if (process.argv.includes('--tls-cost-only')) await tlsCostOnly();
else await main();

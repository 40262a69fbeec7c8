/**
 * Election measurements for docs/ELECTION.md: messages per leader change and time from a
 * leader crash to a new leader every survivor agrees on, for n = 3, 10, 50, comparing in
 * the same run
 *   - our load-priority Bully with a fresh successor list (the normal case),
 *   - the same with a stale list (leader and all listed successors crash together), which
 *     forces the full fallback election,
 *   - the textbook Bully (src/sim/classic-bully.ts) under the same network and detector.
 *
 * Election messages are Election/Alive/Nominate/Coordinator/StaleEpoch/Handover (classic:
 * Election/Answer/Coordinator), counted from the crash until 5 s later (all the traffic the
 * change causes). Heartbeats are not counted: both algorithms send the same ones.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { randomInt, SeededRandom } from '../core/random.js';
import { lineChart } from '../util/charts.js';
import { ClassicBullyNode, type BullyMessage, type BullyTimings } from './classic-bully.js';
import { Simulation } from './cluster.js';
import { EventQueue } from './event-queue.js';
import { Network, serverEndpoint } from './network.js';

export type Algorithm = 'improved' | 'improved-stale' | 'classic';

export interface ElectionSample {
  algorithm: Algorithm;
  n: number;
  seed: number;
  messages: number;
  /** Crash to agreement; null if no agreement within the window. */
  time_ms: number | null;
}

export const BENCH_TIMINGS = {
  heartbeat_interval_ms: 200,
  election_timeout_ms: 400,
  failure_timeout_ms: 1000,
} as const satisfies BullyTimings;

const WINDOW_MS = 5000;

/** One leader crash in a steady cluster running our algorithm. */
export function measureImproved(n: number, seed: number, stale: boolean): ElectionSample {
  const r = new SeededRandom(seed * 7919 + n);
  const loads = Array.from({ length: n }, () => ({
    cpu_pct: randomInt(r, 5, 90),
    memory_used_pct: randomInt(r, 10, 80),
  }));
  const sim = new Simulation({
    seed,
    nodes: n,
    clients: 0,
    server: { ...BENCH_TIMINGS, successor_list_length: 3, monitor_interval_ms: 100 },
    client: {},
    exec_min_ms: 10,
    exec_max_ms: 10,
    serialize: false,
    trace: false,
    fixed_loads: loads,
  });
  sim.runUntil(4000);
  const before = sim.agreedLeader();
  if (before === null) throw new Error(`improved n=${n} seed=${seed}: no leader before the crash`);
  sim.runUntil(sim.now + randomInt(r, 0, BENCH_TIMINGS.heartbeat_interval_ms));
  const crashAt = sim.now;
  const victims = [before.leader];
  if (stale) victims.push(...(sim.server(before.leader).node?.status().successors ?? []));
  let agreedAt: number | null = null;
  sim.onNodeEvent((_, e) => {
    if (agreedAt !== null || (e.type !== 'becameLeader' && e.type !== 'leaderAcknowledged')) return;
    const now = sim.agreedLeader();
    if (now !== null && now.epoch > before.epoch) agreedAt = sim.now;
  });
  const sentBefore = sim.electionMessagesSent();
  for (const v of victims) sim.crash(v);
  sim.runUntil(crashAt + WINDOW_MS);
  return {
    algorithm: stale ? 'improved-stale' : 'improved',
    n,
    seed,
    messages: sim.electionMessagesSent() - sentBefore,
    time_ms: agreedAt === null ? null : agreedAt - crashAt,
  };
}

/** One leader crash in a steady cluster running textbook Bully (highest id wins). */
export function measureClassic(n: number, seed: number): ElectionSample {
  const random = new SeededRandom(seed * 104729 + n);
  const network = new Network(random.fork());
  const queue = new EventQueue<
    { kind: 'msg'; to: number; m: BullyMessage } | { kind: 'tick'; id: number }
  >();
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  const nodes = new Map(
    ids.map((id) => [
      id,
      new ClassicBullyNode(
        id,
        ids.filter((p) => p !== id),
        BENCH_TIMINGS,
        0,
        n,
      ),
    ]),
  );
  const alive = new Set(ids);
  let counting = false;
  let messages = 0;
  const flush = (node: ClassicBullyNode, now: number): void => {
    for (const out of node.drain()) {
      if (counting && out.message.type !== 'Heartbeat') messages++;
      for (const t of network.plan(serverEndpoint(node.id), serverEndpoint(out.to), now)) {
        queue.push(t, { kind: 'msg', to: out.to, m: out.message });
      }
    }
    queue.push(Math.max(now, node.nextDeadline()), { kind: 'tick', id: node.id });
  };
  let now = 0;
  for (const node of nodes.values()) flush(node, 0);
  const crashAt = 3000 + randomInt(random, 0, BENCH_TIMINGS.heartbeat_interval_ms);
  let agreedAt: number | null = null;
  const agreed = (): boolean => {
    const leaders = new Set([...alive].map((id) => nodes.get(id)?.leader));
    const [only] = leaders;
    return (
      leaders.size === 1 && only !== undefined && only !== null && alive.has(only) && only !== n
    );
  };
  while (queue.peekTime() <= crashAt + WINDOW_MS) {
    const next = queue.pop();
    if (next === undefined) break;
    if (!counting && next.time >= crashAt) {
      counting = true;
      alive.delete(n);
    }
    now = next.time;
    const e = next.item;
    const id = e.kind === 'msg' ? e.to : e.id;
    const node = nodes.get(id);
    if (node === undefined || (counting && !alive.has(id))) continue;
    if (e.kind === 'msg') node.receive(e.m, now);
    else node.tick(now);
    flush(node, now);
    if (counting && agreedAt === null && agreed()) agreedAt = now;
  }
  return {
    algorithm: 'classic',
    n,
    seed,
    messages,
    time_ms: agreedAt === null ? null : agreedAt - crashAt,
  };
}

export interface ElectionRow {
  algorithm: Algorithm;
  n: number;
  runs: number;
  messages_mean: number;
  messages_max: number;
  time_mean_ms: number;
  time_p95_ms: number;
  time_max_ms: number;
  failed: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[rank] ?? NaN;
}

export function summarize(samples: readonly ElectionSample[]): ElectionRow[] {
  const groups = new Map<string, ElectionSample[]>();
  for (const s of samples) {
    const key = `${s.algorithm}|${s.n}`;
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  return [...groups.values()].map((g) => {
    const first = g[0] as ElectionSample;
    const times = g.flatMap((s) => (s.time_ms === null ? [] : [s.time_ms])).sort((a, b) => a - b);
    const msgs = g.map((s) => s.messages);
    return {
      algorithm: first.algorithm,
      n: first.n,
      runs: g.length,
      messages_mean: msgs.reduce((a, b) => a + b, 0) / g.length,
      messages_max: msgs.reduce((a, b) => Math.max(a, b), 0),
      time_mean_ms: times.reduce((a, b) => a + b, 0) / Math.max(1, times.length),
      time_p95_ms: percentile(times, 0.95),
      time_max_ms: times[times.length - 1] ?? NaN,
      failed: g.length - times.length,
    };
  });
}

export function runElectionBench(sizes: readonly number[], runs: number): ElectionRow[] {
  const samples: ElectionSample[] = [];
  for (const n of sizes) {
    for (let seed = 1; seed <= runs; seed++) {
      samples.push(measureImproved(n, seed, false));
      if (n > 4) samples.push(measureImproved(n, seed, true));
      samples.push(measureClassic(n, seed));
    }
  }
  return summarize(samples);
}

const LABEL: Record<Algorithm, string> = {
  improved: 'ours, fresh successor list',
  'improved-stale': 'ours, stale list (full election)',
  classic: 'classic Bully',
};

export function markdownTable(rows: readonly ElectionRow[]): string {
  const ft = BENCH_TIMINGS.failure_timeout_ms;
  const lines = [
    '| n | algorithm | runs | messages per leader change, mean (max) | 3n | time to agreed leader, ms: mean / p95 / max | max / failure timeout |',
    '|---:|---|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.n} | ${LABEL[r.algorithm]} | ${r.runs} | ${r.messages_mean.toFixed(1)} (${r.messages_max}) | ${3 * r.n} | ` +
        `${r.time_mean_ms.toFixed(0)} / ${r.time_p95_ms.toFixed(0)} / ${r.time_max_ms.toFixed(0)}${r.failed > 0 ? ` (${r.failed} never agreed)` : ''} | ` +
        `${(r.time_max_ms / ft).toFixed(2)} |`,
    );
  }
  return lines.join('\n');
}

export function charts(
  rows: readonly ElectionRow[],
  sizes: readonly number[],
): { messages: string; time: string } {
  const series = (a: Algorithm, pick: (r: ElectionRow) => number) =>
    rows.filter((r) => r.algorithm === a).map((r) => ({ x: r.n, y: pick(r) }));
  const ft = BENCH_TIMINGS.failure_timeout_ms;
  const messages = lineChart({
    title: 'Election messages per leader change (leader crash)',
    xLabel: 'servers (n)',
    yLabel: 'messages (log scale)',
    xScale: 'log',
    yScale: 'log',
    xTicks: sizes,
    series: [
      { name: LABEL.classic, points: series('classic', (r) => r.messages_mean), marker: 'square' },
      {
        name: LABEL.improved,
        points: series('improved', (r) => r.messages_mean),
        marker: 'circle',
      },
      {
        name: LABEL['improved-stale'],
        points: series('improved-stale', (r) => r.messages_mean),
        marker: 'triangle',
      },
      {
        name: 'target 3n',
        points: sizes.map((n) => ({ x: n, y: 3 * n })),
        dashed: true,
        marker: 'none',
        color: '#777777',
      },
      {
        name: 'n²',
        points: sizes.map((n) => ({ x: n, y: n * n })),
        dashed: true,
        marker: 'none',
        color: '#bbbbbb',
      },
    ],
  });
  const time = lineChart({
    title: 'Leader crash to agreed new leader (max over runs)',
    xLabel: 'servers (n)',
    yLabel: 'milliseconds',
    xScale: 'log',
    xTicks: sizes,
    yMin: 0,
    series: [
      { name: LABEL.classic, points: series('classic', (r) => r.time_max_ms), marker: 'square' },
      { name: LABEL.improved, points: series('improved', (r) => r.time_max_ms), marker: 'circle' },
      {
        name: LABEL['improved-stale'],
        points: series('improved-stale', (r) => r.time_max_ms),
        marker: 'triangle',
      },
      {
        name: 'target 1.5 x failure timeout',
        points: sizes.map((n) => ({ x: n, y: 1.5 * ft })),
        dashed: true,
        marker: 'none',
        color: '#777777',
      },
      {
        name: 'failure timeout',
        points: sizes.map((n) => ({ x: n, y: ft })),
        dashed: true,
        marker: 'none',
        color: '#bbbbbb',
      },
    ],
  });
  return { messages, time };
}

/** `sim election [--runs R] [--sizes 3,10,50] [--svg-dir DIR] [--json FILE]` */
export function commandElection(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string', default: '30' },
      sizes: { type: 'string', default: '3,10,50' },
      'svg-dir': { type: 'string' },
      json: { type: 'string' },
    },
    strict: true,
  });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 10_000)
    throw new Error('--runs must be an integer 1..10000');
  const sizes = (values.sizes ?? '').split(',').map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 2 || n > 200))
    throw new Error('--sizes must list integers 2..200');
  const started = Date.now();
  const rows = runElectionBench(sizes, runs);
  console.log(markdownTable(rows));
  console.log(
    `\n${runs} crash(es) per size and algorithm; heartbeat ${BENCH_TIMINGS.heartbeat_interval_ms} ms, ` +
      `election timeout ${BENCH_TIMINGS.election_timeout_ms} ms, failure timeout ${BENCH_TIMINGS.failure_timeout_ms} ms, ` +
      `network delay 1-5 ms; ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  if (values['svg-dir'] !== undefined) {
    mkdirSync(values['svg-dir'], { recursive: true });
    const svg = charts(rows, sizes);
    writeFileSync(join(values['svg-dir'], 'election-messages.svg'), svg.messages);
    writeFileSync(join(values['svg-dir'], 'election-time.svg'), svg.time);
    console.log(`wrote ${join(values['svg-dir'], 'election-messages.svg')} and election-time.svg`);
  }
  if (values.json !== undefined) writeFileSync(values.json, `${JSON.stringify(rows, null, 2)}\n`);
  return rows.some((r) => r.failed > 0) ? 1 : 0;
}

#!/usr/bin/env node
/**
 * The simulator's command line (`npm run sim -- ...`).
 *
 *   run (default)   --seeds N [--start S] [--nodes 3,5,10] [--fault-end-ms T] [--quiet]
 *                   --seed S [--nodes N] --trace      replay one seed and print its trace
 *   scenario FILE.. [--update]                        run scenario scripts, compare traces
 *   election        [--runs R] [--svg-dir docs] [--json file]  election comparison
 *
 * Exit code 0 when every run passes, 1 when any invariant is violated, 2 on bad arguments.
 */
import { parseArgs } from 'node:util';
import { formatViolation } from './invariants.js';
import { runSeed, type RunResult } from './random-run.js';

interface RunArgs {
  seeds: number;
  start: number;
  nodes: number[] | undefined;
  faultEnd: number | undefined;
  trace: boolean;
  quiet: boolean;
}

function parseNumberList(text: string, name: string): number[] {
  const values = text.split(',').map((v) => Number(v.trim()));
  if (values.some((v) => !Number.isInteger(v) || v < 1 || v > 999)) {
    throw new Error(`--${name} must be a comma-separated list of integers 1..999 (got ${text})`);
  }
  return values;
}

function parseInteger(
  text: string | undefined,
  name: string,
  fallback: number,
  min: number,
): number {
  if (text === undefined) return fallback;
  const v = Number(text);
  if (!Number.isInteger(v) || v < min)
    throw new Error(`--${name} must be an integer >= ${min} (got ${text})`);
  return v;
}

function parseRunArgs(argv: string[]): RunArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      seeds: { type: 'string' },
      seed: { type: 'string' },
      start: { type: 'string' },
      nodes: { type: 'string' },
      'fault-end-ms': { type: 'string' },
      trace: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const single = values.seed !== undefined;
  return {
    seeds: single ? 1 : parseInteger(values.seeds, 'seeds', 100, 1),
    start: single
      ? parseInteger(values.seed, 'seed', 1, 0)
      : parseInteger(values.start, 'start', 1, 0),
    nodes: values.nodes === undefined ? undefined : parseNumberList(values.nodes, 'nodes'),
    faultEnd:
      values['fault-end-ms'] === undefined
        ? undefined
        : parseInteger(values['fault-end-ms'], 'fault-end-ms', 15_000, 1000),
    trace: values.trace === true,
    quiet: values.quiet === true,
  };
}

function printTrace(result: RunResult): void {
  for (const line of result.trace) {
    console.log(`${String(line.time_ms).padStart(7)}ms ${line.kind.padEnd(7)} ${line.text}`);
  }
}

function describeRun(r: RunResult): string {
  const p = r.profile;
  const faults = [
    p.crash && 'crash',
    p.pause && 'pause',
    p.partition && 'partition',
    p.one_way && 'one-way',
    p.loss > 0 && `loss=${p.loss}`,
    p.duplicate > 0 && `dup=${p.duplicate}`,
    p.reorder > 0 && `reorder=${p.reorder}`,
    p.failure_simulation && 'failure-sim',
  ].filter(Boolean);
  return (
    `seed=${r.seed} nodes=${r.nodes} clients=${r.clients} tasks=${r.tasks} ` +
    `hb=${r.timings.heartbeat_interval_ms} ft=${r.timings.failure_timeout_ms} ` +
    `faults=[${faults.join(' ')}] converged=${r.convergence_ms ?? '-'}ms msgs=${r.messages}`
  );
}

function commandRun(argv: string[]): number {
  const args = parseRunArgs(argv);
  let failed = 0;
  const ratios: number[] = [];
  let worstConvergence = 0;
  const started = Date.now();
  for (let i = 0; i < args.seeds; i++) {
    const seed = args.start + i;
    const nodes = args.nodes === undefined ? undefined : args.nodes[i % args.nodes.length];
    const result = runSeed({ seed, nodes, fault_end_ms: args.faultEnd, trace: args.trace });
    if (args.trace) printTrace(result);
    const c = result.convergence_ms ?? 0;
    worstConvergence = Math.max(worstConvergence, c);
    ratios.push(c / result.timings.failure_timeout_ms);
    if (result.violations.length > 0) {
      failed++;
      console.log(`FAIL ${describeRun(result)}`);
      for (const v of result.violations.slice(0, 10)) console.log(`  ${formatViolation(v)}`);
      const nodeFlag = nodes === undefined ? '' : ` --nodes ${nodes}`;
      console.log(`  replay: npm run sim -- --seed ${seed}${nodeFlag} --trace`);
    } else if (!args.quiet || args.seeds === 1) {
      console.log(`ok   ${describeRun(result)}`);
    }
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  ratios.sort((a, b) => a - b);
  const at = (p: number): string =>
    (ratios[Math.min(ratios.length - 1, Math.floor(p * ratios.length))] ?? 0).toFixed(2);
  console.log(
    `${args.seeds - failed}/${args.seeds} seeds passed in ${seconds}s; agreed leader after faults stop: ` +
      `p50 ${at(0.5)}, p99 ${at(0.99)}, max ${at(1)} x failure timeout (worst ${worstConvergence}ms)`,
  );
  return failed === 0 ? 0 : 1;
}

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  try {
    if (first === 'scenario') {
      const { commandScenario } = await import('./scenario.js');
      return commandScenario(rest);
    }
    if (first === 'election') {
      const { commandElection } = await import('./election-bench.js');
      return commandElection(rest);
    }
    return commandRun(first === 'run' ? rest : argv);
  } catch (err) {
    console.error(`sim: ${err instanceof Error ? err.message : String(err)}`);
    return 2;
  }
}

process.exitCode = await main(process.argv.slice(2));

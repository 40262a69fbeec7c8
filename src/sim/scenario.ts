/**
 * Scenario scripts: hand-written stories run on the simulator, with their expected traces
 * (the format follows etcd-io/raft's datadriven testdata). A script is a list of blocks:
 *
 *     # comment
 *     command arg key=value
 *     ----
 *     expected output (until a blank line)
 *
 * `runScenario` executes the commands and produces the actual output for each block; the
 * test compares it with the expected text, and `--update` rewrites the file with the actual
 * output (review the diff before committing it). Commands:
 *
 *   cluster nodes=N [clients=C] [seed=S] [hb=MS] [et=MS] [ft=MS] [successors=K] [pool=P]
 *           [queue=Q] [exec=MS] [cpu=a,b,c] [mem=a,b,c] [failure-sim=INTERVAL:MIN:MAX]
 *           [sustain=MS] [margin=X]
 *   run MS                 advance virtual time; prints what happened
 *   crash N | restart N | pause N | resume N
 *   partition 1,2|3        split servers into groups; `block 1>2` one way; `heal`
 *   load N cpu=X [mem=Y]   change a server's load
 *   submit CLIENT COUNT    submit tasks (client index from 1)
 *   status                 one line per server
 *   history N              server N's history entries
 *   agreed                 the leader all live servers follow, if any
 *   tasks                  delivered and pending tasks per client
 *   messages               messages sent since the last `messages`, by type
 *   check                  invariant violations so far ("ok" if none)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { formatEpoch } from '../core/epoch.js';
import { Simulation, type SimConfig, type TraceLine } from './cluster.js';
import { formatViolation } from './invariants.js';

export interface ScenarioBlock {
  /** Comment lines before the command, kept when the file is rewritten. */
  comments: string[];
  command: string;
  expected: string;
  /** 1-based line of the command, for error messages. */
  line: number;
}

export function parseScenario(text: string): ScenarioBlock[] {
  const lines = text.split('\n');
  const blocks: ScenarioBlock[] = [];
  let comments: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] ?? '';
    if (line.trim() === '') {
      if (comments.length > 0) comments.push('');
      i++;
      continue;
    }
    if (line.startsWith('#')) {
      comments.push(line);
      i++;
      continue;
    }
    const commandLine = i + 1;
    if (lines[i + 1] !== '----')
      throw new Error(`line ${commandLine + 1}: expected ---- after "${line}"`);
    i += 2;
    const expected: string[] = [];
    while (i < lines.length && (lines[i] ?? '') !== '') expected.push(lines[i++] ?? '');
    while (comments.length > 0 && comments[comments.length - 1] === '') comments.pop();
    blocks.push({ comments, command: line, expected: expected.join('\n'), line: commandLine });
    comments = [];
  }
  return blocks;
}

export function formatScenario(
  blocks: readonly ScenarioBlock[],
  outputs: readonly string[],
): string {
  const parts = blocks.map((b, k) => {
    const head = b.comments.length > 0 ? `${b.comments.join('\n')}\n` : '';
    return `${head}${b.command}\n----\n${outputs[k] ?? ''}`;
  });
  return `${parts.join('\n\n')}\n`;
}

type Args = { positional: string[]; named: Map<string, string> };

function parseCommand(command: string): { name: string; args: Args } {
  const [name = '', ...rest] = command.trim().split(/\s+/);
  const args: Args = { positional: [], named: new Map() };
  for (const token of rest) {
    const eq = token.indexOf('=');
    if (eq > 0) args.named.set(token.slice(0, eq), token.slice(eq + 1));
    else args.positional.push(token);
  }
  return { name, args };
}

function intArg(value: string | undefined, what: string): number {
  const v = Number(value);
  if (value === undefined || !Number.isInteger(v))
    throw new Error(`${what} must be an integer (got ${value})`);
  return v;
}

function optionalInt(args: Args, key: string, fallback: number): number {
  const v = args.named.get(key);
  return v === undefined ? fallback : intArg(v, key);
}

function numberList(text: string | undefined, n: number, fallback: number): number[] {
  const values = text === undefined ? [] : text.split(',').map(Number);
  return Array.from({ length: n }, (_, i) => values[i] ?? fallback);
}

const TRACE_EVENT_SKIP = /^s\d+ (peerSuspected|rejected message)/;

class ScenarioRunner {
  private sim: Simulation | null = null;
  private traceFrom = 0;
  private lastMessages = new Map<string, number>();

  execute(command: string): string {
    const { name, args } = parseCommand(command);
    if (name === 'cluster') return this.cluster(args);
    const sim = this.sim;
    if (sim === null) throw new Error(`"${name}" needs a cluster first`);
    switch (name) {
      case 'run':
        sim.runUntil(sim.now + intArg(args.positional[0], 'run duration'));
        return this.newTrace();
      case 'crash':
      case 'restart':
      case 'pause':
      case 'resume':
        sim[name](intArg(args.positional[0], `${name} server`));
        return this.newTrace();
      case 'partition':
        sim.partition(
          (args.positional[0] ?? '')
            .split('|')
            .map((g) => g.split(',').map((v) => intArg(v, 'server'))),
        );
        return this.newTrace();
      case 'block': {
        const [from, to] = (args.positional[0] ?? '').split('>');
        sim.blockOneWay(intArg(from, 'from'), intArg(to, 'to'));
        return this.newTrace();
      }
      case 'heal':
        sim.heal();
        return this.newTrace();
      case 'load': {
        const id = intArg(args.positional[0], 'server');
        sim.setLoad(id, optionalInt(args, 'cpu', 10), optionalInt(args, 'mem', 30));
        return this.newTrace();
      }
      case 'submit': {
        const client = intArg(args.positional[0], 'client') - 1;
        const count = intArg(args.positional[1] ?? '1', 'count');
        const ids = Array.from({ length: count }, () => sim.submit(client));
        const trace = this.newTrace();
        return `c${client + 1} submitted ${ids.join(' ')}${trace === 'ok' ? '' : `\n${trace}`}`;
      }
      case 'status':
        return sim.describeServers().join('\n');
      case 'history':
        return this.history(sim, intArg(args.positional[0], 'server'));
      case 'agreed': {
        const a = sim.agreedLeader();
        return a === null
          ? 'no agreed leader'
          : `all live servers follow s${a.leader} epoch=${formatEpoch(a.epoch)}`;
      }
      case 'tasks':
        return sim.clients
          .map((c) => {
            const pending = [...c.submitted.keys()].filter((t) => !c.delivered.has(t));
            return `${c.id} delivered=${c.delivered.size} pending=${pending.length === 0 ? '-' : pending.join(',')}`;
          })
          .join('\n');
      case 'messages':
        return this.messages(sim);
      case 'check': {
        const v = sim.checker.violations;
        return v.length === 0 ? 'ok' : v.map(formatViolation).join('\n');
      }
      default:
        throw new Error(`unknown command "${name}"`);
    }
  }

  private cluster(args: Args): string {
    const nodes = optionalInt(args, 'nodes', 3);
    const cpu = numberList(args.named.get('cpu'), nodes, 20);
    const mem = numberList(args.named.get('mem'), nodes, 30);
    const fsim = args.named.get('failure-sim')?.split(':').map(Number);
    const config: SimConfig = {
      seed: optionalInt(args, 'seed', 1),
      nodes,
      clients: optionalInt(args, 'clients', 1),
      server: {
        heartbeat_interval_ms: optionalInt(args, 'hb', 200),
        election_timeout_ms: optionalInt(args, 'et', 400),
        failure_timeout_ms: optionalInt(args, 'ft', 1000),
        successor_list_length: optionalInt(args, 'successors', 3),
        thread_pool_size: optionalInt(args, 'pool', 2),
        max_queue_size: optionalInt(args, 'queue', 100),
        hysteresis: {
          margin: optionalInt(args, 'margin', 25),
          sustain_ms: optionalInt(args, 'sustain', 10_000),
        },
        failure_simulation:
          fsim === undefined
            ? { enabled: false }
            : {
                enabled: true,
                interval_ms: fsim[0] ?? 10_000,
                min_silence_ms: fsim[1] ?? 1000,
                max_silence_ms: fsim[2] ?? 3000,
              },
      },
      client: {},
      exec_min_ms: optionalInt(args, 'exec', 100),
      exec_max_ms: optionalInt(args, 'exec', 100),
      serialize: true,
      trace: true,
      fixed_loads: cpu.map((c, i) => ({ cpu_pct: c, memory_used_pct: mem[i] ?? 30 })),
    };
    this.sim = new Simulation(config);
    this.traceFrom = 0;
    this.lastMessages = new Map();
    return this.newTrace();
  }

  private newTrace(): string {
    const sim = this.sim;
    if (sim === null) return 'ok';
    const lines = sim.trace.slice(this.traceFrom).filter(isStoryLine);
    this.traceFrom = sim.trace.length;
    return lines.length === 0
      ? 'ok'
      : lines.map((l) => `${String(l.time_ms).padStart(6)}ms ${l.text}`).join('\n');
  }

  private history(sim: Simulation, id: number): string {
    const node = sim.server(id).node;
    if (node === null) return `s${id} is down`;
    const entries = node
      .historyEntries()
      .map(
        (e) =>
          `${e.client_id}/${e.task_id} -> s${e.assignment.server_id} epoch=${formatEpoch(e.assignment.epoch)} attempt=${e.assignment.attempt}`,
      )
      .sort();
    return entries.length === 0 ? 'empty' : entries.join('\n');
  }

  private messages(sim: Simulation): string {
    const lines: string[] = [];
    for (const [type, count] of [...sim.sentByType].sort((a, b) => a[0].localeCompare(b[0]))) {
      const delta = count - (this.lastMessages.get(type) ?? 0);
      if (delta > 0) lines.push(`${type}=${delta}`);
      this.lastMessages.set(type, count);
    }
    return lines.length === 0 ? 'none' : lines.join(' ');
  }
}

function isStoryLine(l: TraceLine): boolean {
  return (l.kind === 'event' || l.kind === 'client') && !TRACE_EVENT_SKIP.test(l.text);
}

/** Runs a script and returns the actual output of every block. */
export function runScenario(text: string): { blocks: ScenarioBlock[]; outputs: string[] } {
  const blocks = parseScenario(text);
  const runner = new ScenarioRunner();
  const outputs = blocks.map((b) => {
    try {
      return runner.execute(b.command);
    } catch (err) {
      return `error: ${err instanceof Error ? err.message : String(err)}`;
    }
  });
  return { blocks, outputs };
}

/** `sim scenario FILE... [--update]`: exit 1 if any block's output differs. */
export function commandScenario(argv: string[]): number {
  const update = argv.includes('--update');
  const files = argv.filter((a) => a !== '--update');
  if (files.length === 0) throw new Error('scenario: give one or more script files');
  let failures = 0;
  for (const file of files) {
    const { blocks, outputs } = runScenario(readFileSync(file, 'utf8'));
    if (update) {
      writeFileSync(file, formatScenario(blocks, outputs));
      console.log(`updated ${file}`);
      continue;
    }
    let differing = 0;
    blocks.forEach((b, k) => {
      if (outputs[k] === b.expected) return;
      differing++;
      console.log(
        `${file}:${b.line}: ${b.command}\n--- expected\n${b.expected}\n--- actual\n${outputs[k]}\n`,
      );
    });
    failures += differing;
    console.log(`${file}: ${differing === 0 ? 'ok' : `${differing} block(s) differ`}`);
  }
  return failures === 0 ? 0 : 1;
}

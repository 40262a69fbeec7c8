/**
 * One randomized simulation run per seed, in the style of TigerBeetle's VOPR "swarm" testing:
 * the seed picks the cluster size, the timings, which kinds of fault are enabled at all and
 * how hard they hit, then schedules crashes, restarts, pauses, partitions (symmetric and
 * one-way), message loss, duplication, reordering and the built-in failure simulation until
 * `fault_end_ms`. After that everything heals and the run checks liveness: one agreed leader
 * within the stated bound, every task delivered exactly once with the right result, and every
 * history and result cache empty (nothing leaked).
 */
import type { ServerNodeConfigInput } from '../core/config.js';
import { chance, pick, randomInt, SeededRandom } from '../core/random.js';
import { Simulation, type SimConfig, type TraceLine } from './cluster.js';
import type { Violation } from './invariants.js';

export interface RunOptions {
  seed: number;
  /** Cluster size; drawn from `sizes` (by the seed) when absent. */
  nodes?: number;
  sizes?: readonly number[];
  /** Faults happen before this time; afterwards everything heals. */
  fault_end_ms?: number;
  /** Hard stop (liveness violations are reported if work is still pending). */
  max_time_ms?: number;
  trace?: boolean;
}

export interface FaultProfile {
  crash: boolean;
  pause: boolean;
  partition: boolean;
  one_way: boolean;
  loss: number;
  duplicate: number;
  reorder: number;
  failure_simulation: boolean;
  serialize: boolean;
  /** One server crashes for good: the rest must finish all work without it. */
  permanent_crash: boolean;
}

export interface RunResult {
  seed: number;
  nodes: number;
  clients: number;
  tasks: number;
  profile: FaultProfile;
  timings: {
    heartbeat_interval_ms: number;
    election_timeout_ms: number;
    failure_timeout_ms: number;
  };
  violations: Violation[];
  /** Time from the end of faults (or of the last silence) to a stable agreed leader. */
  convergence_ms: number | null;
  convergence_bound_ms: number;
  end_ms: number;
  fingerprint: number;
  messages: number;
  faults: number;
  /** How many "reassigned within the bound" checks found a quiet window and ran. */
  reassign_checks: number;
  trace: TraceLine[];
}

export const DEFAULT_SIZES: readonly number[] = [3, 3, 3, 4, 5, 5, 7, 10];

/** The timings the convergence and reassignment bounds depend on. */
interface BoundTimings {
  heartbeat_interval_ms: number;
  election_timeout_ms: number;
  failure_timeout_ms: number;
  successor_list_length: number;
}

/** How long after faults stop all live servers must agree on one leader (see docs/ELECTION.md). */
export function convergenceBound(t: BoundTimings): number {
  const et = t.election_timeout_ms;
  // listen (FT + jitter) | lose a stepped-down leader (FT), then the successor ladder,
  // a full election (collect + nominate) and a retry, plus two heartbeats of slack.
  return (
    t.failure_timeout_ms +
    et / 2 +
    t.successor_list_length * et +
    3 * et +
    2 * t.heartbeat_interval_ms
  );
}

/** How long after a server dies the leader may still list tasks on it ("FT plus one election"). */
export function reassignmentBound(t: BoundTimings): number {
  const et = t.election_timeout_ms;
  return (
    t.failure_timeout_ms +
    t.successor_list_length * et +
    et / 2 +
    2 * et +
    2 * t.heartbeat_interval_ms +
    50
  );
}

function drawProfile(r: SeededRandom): FaultProfile {
  return {
    crash: chance(r, 0.5),
    pause: chance(r, 0.4),
    partition: chance(r, 0.35),
    one_way: chance(r, 0.2),
    loss: chance(r, 0.35) ? randomInt(r, 1, 10) / 100 : 0,
    duplicate: chance(r, 0.25) ? randomInt(r, 1, 5) / 100 : 0,
    reorder: chance(r, 0.3) ? randomInt(r, 5, 30) / 100 : 0,
    failure_simulation: chance(r, 0.3),
    serialize: chance(r, 0.1),
    permanent_crash: chance(r, 0.25),
  };
}

function drawServerConfig(
  r: SeededRandom,
  profile: FaultProfile,
): Omit<ServerNodeConfigInput, 'id' | 'peers'> {
  const hi = pick(r, [100, 200, 200, 250]);
  const ft = hi * pick(r, [3, 4, 5, 5, 6]);
  const et = pick(r, [hi, 2 * hi, 2 * hi]);
  const maxSilence = randomInt(r, 1000, 4000);
  return {
    heartbeat_interval_ms: hi,
    election_timeout_ms: et,
    failure_timeout_ms: ft,
    monitor_interval_ms: pick(r, [50, 100, 100]),
    thread_pool_size: randomInt(r, 1, 4),
    max_queue_size: pick(r, [2, 10, 100]),
    successor_list_length: pick(r, [1, 2, 3, 3]),
    hysteresis: { margin: 25, sustain_ms: pick(r, [3000, 10_000]) },
    failure_simulation: {
      enabled: profile.failure_simulation,
      min_silence_ms: 500,
      max_silence_ms: maxSilence,
      interval_ms: maxSilence + ft + 2 * et + randomInt(r, 500, 3000),
    },
  };
}

export function runSeed(options: RunOptions): RunResult {
  const r = new SeededRandom(options.seed ^ 0x5eed);
  const nodes = options.nodes ?? pick(r, options.sizes ?? DEFAULT_SIZES);
  const profile = drawProfile(r);
  const server = drawServerConfig(r, profile);
  const clients = randomInt(r, 1, 3);
  const faultEnd = options.fault_end_ms ?? 15_000;
  const maxTime = options.max_time_ms ?? faultEnd + 45_000;
  const config: SimConfig = {
    seed: options.seed,
    nodes,
    clients,
    server,
    client: {},
    exec_min_ms: 20,
    exec_max_ms: pick(r, [100, 500, 1500]),
    serialize: profile.serialize,
    trace: options.trace ?? false,
  };
  const sim = new Simulation(config);
  const timings = {
    heartbeat_interval_ms: server.heartbeat_interval_ms ?? 200,
    election_timeout_ms: server.election_timeout_ms ?? 400,
    failure_timeout_ms: server.failure_timeout_ms ?? 1000,
    successor_list_length: server.successor_list_length ?? 3,
  };
  sim.setConditions({
    loss: profile.loss,
    duplicate: profile.duplicate,
    reorder: profile.reorder,
    reorder_extra_ms: 40,
  });

  const tasksPerClient = nodes >= 20 ? randomInt(r, 4, 10) : randomInt(r, 5, 30);
  for (let c = 0; c < clients; c++) {
    for (let t = 0; t < tasksPerClient; t++) {
      sim.at(randomInt(r, 0, faultEnd + 2000), () => sim.submit(c));
    }
  }

  const faultTimes: number[] = [];
  sim.onFault(() => faultTimes.push(sim.now));
  sim.onNodeEvent((_, e) => {
    if (e.type === 'silenceStarted' || e.type === 'silenceEnded') faultTimes.push(sim.now);
  });
  const dead = new Set<number>();
  const planned = planFaults(sim, r, profile, faultEnd, dead);
  const checks = scheduleReassignmentChecks(sim, profile, timings, faultTimes);

  sim.runUntil(faultEnd);
  healEverything(sim, dead);
  const bound = convergenceBound(timings);
  const result = settle(sim, faultEnd, maxTime, bound, timings.election_timeout_ms);
  return {
    seed: options.seed,
    nodes,
    clients,
    tasks: clients * tasksPerClient,
    profile,
    timings,
    violations: sim.checker.violations,
    convergence_ms: result.convergence_ms,
    convergence_bound_ms: bound,
    end_ms: sim.now,
    fingerprint: sim.fingerprint,
    messages: [...sim.sentByType.values()].reduce((a, b) => a + b, 0),
    faults: planned,
    reassign_checks: checks.ran,
    trace: sim.trace,
  };
}

/** Schedules the seed's faults; never takes the last running server down. */
function planFaults(
  sim: Simulation,
  r: SeededRandom,
  profile: FaultProfile,
  faultEnd: number,
  dead: Set<number>,
): number {
  const n = sim.servers.length;
  if (profile.permanent_crash && n >= 2) {
    const victim = randomInt(r, 1, n);
    sim.at(randomInt(r, 1000, faultEnd - 1000), () => {
      const running = sim.servers.filter((s) => s.status === 'up').length;
      if (running <= 1 || sim.server(victim).status === 'crashed') return;
      dead.add(victim);
      sim.log('fault', `s${victim} dies for good`);
      sim.crash(victim);
    });
  }
  const kinds: ('crash' | 'pause' | 'partition' | 'one_way')[] = [];
  if (profile.crash) kinds.push('crash', 'crash');
  if (profile.pause) kinds.push('pause');
  if (profile.partition) kinds.push('partition');
  if (profile.one_way) kinds.push('one_way');
  if (kinds.length === 0) return 0;
  const count = randomInt(r, 2, 8);
  for (let i = 0; i < count; i++) {
    const at = randomInt(r, 500, faultEnd - 500);
    const kind = pick(r, kinds);
    const victim = randomInt(r, 1, n);
    const duration = randomInt(r, 100, 8000);
    const split = randomInt(r, 1, n - 1);
    const order = shuffle(
      r,
      Array.from({ length: n }, (_, k) => k + 1),
    );
    sim.at(at, () => {
      const running = sim.servers.filter((s) => s.status === 'up').length;
      const victimUp = sim.server(victim).status === 'up';
      if ((kind === 'crash' || kind === 'pause') && (!victimUp || running <= 1)) return;
      const revive = (fn: () => void) => () => {
        if (!dead.has(victim)) fn();
      };
      switch (kind) {
        case 'crash':
          sim.crash(victim);
          sim.at(
            sim.now + duration,
            revive(() => sim.restart(victim)),
          );
          return;
        case 'pause':
          sim.pause(victim);
          sim.at(
            sim.now + duration,
            revive(() => sim.resume(victim)),
          );
          return;
        case 'partition':
          sim.partition([order.slice(0, split), order.slice(split)]);
          sim.at(sim.now + duration, () => sim.heal());
          return;
        case 'one_way':
          for (let k = 0; k < Math.min(3, n - 1); k++)
            sim.blockOneWay(order[k] ?? 1, order[k + 1] ?? 2);
          sim.at(sim.now + duration, () => sim.heal());
          return;
      }
    });
  }
  return count;
}

function shuffle<T>(r: SeededRandom, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(r, 0, i);
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

/**
 * "No task stays assigned to a dead server after the failure timeout plus one election":
 * checked for every crash or pause that has the cluster to itself (no other fault nearby,
 * no message loss), at the bound, on every live leader's history.
 */
function scheduleReassignmentChecks(
  sim: Simulation,
  profile: FaultProfile,
  timings: Parameters<typeof reassignmentBound>[0],
  faultTimes: number[],
): { ran: number } {
  const stats = { ran: 0 };
  if (profile.loss > 0) return stats;
  const bound = reassignmentBound(timings);
  const watch = (id: number): void => {
    const downAt = sim.now;
    const incarnation = sim.server(id).incarnation;
    sim.at(downAt + bound, () => {
      const s = sim.server(id);
      if (s.status === 'up' || s.incarnation !== incarnation) return;
      const quiet = faultTimes.every(
        (t) => t === downAt || t < downAt - timings.failure_timeout_ms || t > downAt + bound,
      );
      if (!quiet || sim.network.isPartitioned) return;
      stats.ran++;
      for (const l of sim.liveServers()) {
        if (l.node?.currentRole !== 'leader') continue;
        const stuck = l.node.historyEntries().filter((e) => e.assignment.server_id === id);
        if (stuck.length > 0) {
          sim.checker.fail(
            sim.now,
            'reassign-bound',
            `leader s${l.id} still lists ${stuck.length} task(s) on s${id}, down since ${downAt}ms (bound ${bound}ms)`,
          );
        }
      }
    });
  };
  sim.onFault((kind, id) => {
    if ((kind === 'crash' || kind === 'pause') && id !== null) watch(id);
  });
  return stats;
}

function healEverything(sim: Simulation, dead: ReadonlySet<number>): void {
  sim.log('fault', 'faults stop: heal, restart, resume, calm network, failure simulation off');
  sim.heal();
  sim.setConditions({ loss: 0, duplicate: 0, reorder: 0 });
  for (const s of sim.servers) {
    if (s.status === 'crashed' && !dead.has(s.id)) sim.restart(s.id);
    else if (s.status === 'paused') sim.resume(s.id);
  }
  sim.setFailureSimulation(false);
}

/**
 * Runs until everything is delivered and agreed (or the time limit) and checks the outcome.
 * Convergence is measured to the start of the final stretch of agreement (disagreement
 * while a deliberate hysteresis handover completes does not count). Any election other than
 * a handover later than `bound` after the faults stopped is flapping.
 */
function settle(
  sim: Simulation,
  faultEnd: number,
  maxTime: number,
  bound: number,
  electionTimeout: number,
): { convergence_ms: number | null } {
  let lastDisagreement: number | null = null;
  let handoverUntil = -Infinity;
  let doneSince: number | null = null;
  const quietStart = (): number => Math.max(faultEnd, sim.lastSilenceEnd);
  sim.onNodeEvent((s, e) => {
    if (e.type === 'handover') handoverUntil = sim.now + 2 * electionTimeout;
    if (e.type !== 'becameLeader' || e.reason === 'handover') return;
    if (sim.now > quietStart() + bound) {
      sim.checker.fail(
        sim.now,
        'no-flapping',
        `s${s.id} became leader (${e.reason}) ${sim.now - quietStart()}ms after the faults stopped`,
      );
    }
  });
  const step = 100;
  while (sim.now < maxTime) {
    sim.runUntil(sim.now + step);
    for (const s of sim.servers) {
      // A restart scheduled by the fault plan after the heal brings a server back with
      // failure simulation on; keep it off.
      if (s.node !== null && s.node.currentRole !== 'silent')
        s.node.setFailureSimulation(false, sim.now);
    }
    const silent = sim.servers.some((s) => s.node?.currentRole === 'silent');
    const agreed = !silent && sim.agreedLeader() !== null;
    if (!agreed && sim.now > handoverUntil) lastDisagreement = sim.now;
    const done = agreed && sim.now >= quietStart() && sim.quiescent();
    if (!done) doneSince = null;
    else doneSince ??= sim.now;
    if (doneSince !== null && sim.now - doneSince >= 1000) break;
  }
  let convergence: number | null = null;
  if (sim.agreedLeader() === null) {
    sim.checker.fail(
      sim.now,
      'agreement',
      `no agreed leader at the end: ${sim.describeServers().join('; ')}`,
    );
  } else {
    convergence = lastDisagreement === null ? 0 : Math.max(0, lastDisagreement - quietStart());
    if (convergence > bound) {
      sim.checker.fail(
        sim.now,
        'convergence-bound',
        `agreed leader only ${convergence}ms after faults stopped (bound ${bound}ms)`,
      );
    }
  }
  const pending = sim.pendingTasks();
  if (pending.length > 0) {
    sim.checker.fail(
      sim.now,
      'task-lost',
      `${pending.length} task(s) never delivered: ${pending.slice(0, 5).join(', ')}`,
    );
  } else if (!sim.quiescent()) {
    const leftovers = sim.servers
      .filter((s) => s.node !== null)
      .map((s) => {
        const st = s.node?.status(sim.now);
        return `s${s.id} history=${st?.history.size} cached=${st?.tasks.cached_results} pending=${st?.tasks.pending_removals} queued=${st?.tasks.queued} running=${st?.tasks.running} held_results=${s.driver?.resultsHeld} in_workers=${s.driver?.tasksInRunner}`;
      });
    sim.checker.fail(
      sim.now,
      'history-leak',
      `work left behind after every task was delivered: ${leftovers.join('; ')}`,
    );
  }
  return { convergence_ms: convergence };
}

/**
 * A whole simulated cloud in one process: ServerNodes and ClientSessions from src/core,
 * a simulated network, worker pools that "run" tasks as delays, and controls to inject
 * faults. Each server's commands are carried out by the core's NodeDriver, the same glue the
 * production runtime uses, through simulated ports (network, workers, hard state). Time is
 * virtual (ms) and every random choice comes from one seeded PRNG, so a run is a pure
 * function of its configuration: same seed, same trace.
 */
import type { ServerNodeConfigInput } from '../core/config.js';
import { formatEpoch } from '../core/epoch.js';
import type { Command } from '../core/commands.js';
import { NodeDriver } from '../core/driver/node-driver.js';
import type { DriverPorts } from '../core/driver/ports.js';
import type { NodeEvent, Source } from '../core/events.js';
import { ELECTION_MESSAGE_TYPES, type Message, type MessageType } from '../core/messages.js';
import { randomInt, SeededRandom } from '../core/random.js';
import { InvariantViolation, ServerNode } from '../core/server-node.js';
import { SimClients } from './clients.js';
import { EventQueue } from './event-queue.js';
import { mixHash, typeCode } from './fingerprint.js';
import { InvariantChecker } from './invariants.js';
import type {
  FaultKind,
  SimClient,
  SimConfig,
  SimEvent,
  SimServer,
  TraceKind,
  TraceLine,
} from './model.js';
import { clientEndpoint, Network, serverEndpoint, type NetworkConditions } from './network.js';
import { describe, describeEvent, sourceName } from './trace-text.js';
import { expectedDigest, RESULT_SIZE_BYTES, SimWorkers } from './workers.js';

export type {
  FaultKind,
  ServerStatus,
  SimClient,
  SimConfig,
  SimServer,
  TraceKind,
  TraceLine,
} from './model.js';
export { describe, describeEvent } from './trace-text.js';
export { expectedDigest } from './workers.js';

export class Simulation {
  readonly config: SimConfig;
  readonly random: SeededRandom;
  readonly network: Network;
  readonly checker = new InvariantChecker();
  readonly servers: SimServer[] = [];
  /** Index = the client's number - 1 (client `c1` is at 0). */
  readonly clients: SimClient[];
  readonly trace: TraceLine[] = [];
  /** Messages sent, by type (all copies the network accepted or dropped). */
  readonly sentByType = new Map<MessageType, number>();
  now = 0;
  /** Rolling hash of everything that happened: equal fingerprints = identical runs. */
  fingerprint = 0x811c9dc5;
  /** Latest time a server left silence (failure simulation). */
  lastSilenceEnd = 0;
  private readonly queue = new EventQueue<SimEvent>();
  private readonly serverRandom: SeededRandom;
  private readonly nodeEventListeners: ((server: SimServer, e: NodeEvent) => void)[] = [];
  private readonly faultListeners: ((kind: FaultKind, server: number | null) => void)[] = [];
  private readonly clientSide: SimClients;

  constructor(config: SimConfig) {
    this.config = config;
    this.random = new SeededRandom(config.seed);
    this.network = new Network(this.random.fork());
    this.serverRandom = this.random.fork();
    const ids = Array.from({ length: config.nodes }, (_, i) => i + 1);
    for (const id of ids) this.servers.push(this.newServer(id));
    this.clientSide = new SimClients(
      {
        config,
        checker: this.checker,
        now: () => this.now,
        schedule: (time_ms, event) => this.queue.push(time_ms, event),
        route: (from, to, message, binary) => this.route(from, to, message, binary),
        hash: (...values) => this.hash(...values),
        log: (kind, text) => this.log(kind, text),
      },
      config.clients,
      this.random,
    );
    this.clients = this.clientSide.all;
    for (const s of this.servers) {
      this.bootServer(s);
      if (config.fixed_loads === undefined) this.queue.push(1000, { kind: 'load', id: s.id });
    }
  }

  // ------------------------------------------------------------------------------------
  // Setup
  // ------------------------------------------------------------------------------------

  serverConfig(id: number): ServerNodeConfigInput {
    const all = Array.from({ length: this.config.nodes }, (_, i) => i + 1);
    return { ...this.config.server, id, peers: all.filter((p) => p !== id) };
  }

  private newServer(id: number): SimServer {
    const fixed = this.config.fixed_loads?.[id - 1];
    return {
      id,
      status: 'up',
      node: null,
      driver: null,
      incarnation: 0,
      hard: undefined,
      timerAt: Infinity,
      timerToken: 0,
      workers: this.newWorkers(id, 0),
      deferred: [],
      baseCpu: fixed?.cpu_pct ?? randomInt(this.random, 5, 60),
      baseMem: fixed?.memory_used_pct ?? randomInt(this.random, 20, 70),
    };
  }

  private bootServer(s: SimServer): void {
    s.incarnation++;
    s.status = 'up';
    const node = new ServerNode(
      this.serverConfig(s.id),
      this.serverRandom.fork(),
      this.now,
      s.hard,
    );
    s.workers = this.newWorkers(s.id, s.incarnation);
    s.node = node;
    s.driver = new NodeDriver(node, this.ports(s, s.workers));
    s.deferred = [];
    s.timerAt = Infinity;
    this.checker.onServerReset(s.id);
    this.applyLoad(s);
    s.driver.flush();
  }

  private newWorkers(id: number, incarnation: number): SimWorkers {
    return new SimWorkers(this.config.server.thread_pool_size ?? 4, (key) =>
      this.queue.push(this.now, { kind: 'taskStart', id, incarnation, key }),
    );
  }

  /** What the driver of server `s` does in this world: the simulated network, workers, disk. */
  private ports(s: SimServer, workers: SimWorkers): DriverPorts {
    const self: Source = { kind: 'server', id: s.id };
    return {
      now: () => this.now,
      persist: (state) => {
        s.hard = state;
      },
      send: (to, message, binary, written) => {
        this.route(self, to, message, binary);
        written();
      },
      runner: workers,
      silence: () => {}, // the core already ignores its inputs; nothing to drop here
      settled: (next_tick_ms) => this.afterServerInput(s, next_tick_ms),
      observer: {
        command: (c) => this.onCommand(s, c),
        event: (e) => this.onEvent(s, e),
        problem: (text, fields) =>
          this.checker.fail(
            this.now,
            'runtime-glue',
            `s${s.id}: ${text} ${JSON.stringify(fields)}`,
          ),
      },
    };
  }

  onNodeEvent(listener: (server: SimServer, e: NodeEvent) => void): void {
    this.nodeEventListeners.push(listener);
  }

  onFault(listener: (kind: FaultKind, server: number | null) => void): void {
    this.faultListeners.push(listener);
  }

  private notifyFault(kind: FaultKind, server: number | null): void {
    for (const listener of this.faultListeners) listener(kind, server);
  }

  server(id: number): SimServer {
    const s = this.servers[id - 1];
    if (s === undefined) throw new Error(`no server s${id}`);
    return s;
  }

  // ------------------------------------------------------------------------------------
  // Running
  // ------------------------------------------------------------------------------------

  /** Processes every event up to and including time `t`, then sets the clock to `t`. */
  runUntil(t: number): void {
    while (this.queue.peekTime() <= t) {
      const next = this.queue.pop();
      if (next === undefined) break;
      this.now = next.time;
      this.dispatch(next.item);
    }
    this.now = Math.max(this.now, t);
  }

  /** Schedules a function at time `t` (for fault plans and workloads). */
  at(t: number, fn: () => void): void {
    this.queue.push(Math.max(t, this.now), { kind: 'call', fn });
  }

  private hash(...values: number[]): void {
    this.fingerprint = mixHash(this.fingerprint, values);
  }

  /**
   * Runs one event. A broken core invariant is a violation of the run: the server it broke on
   * stops, as a production server would (it exits; see src/core/README.md).
   */
  private dispatch(e: SimEvent): void {
    try {
      this.dispatchEvent(e);
    } catch (err) {
      if (!(err instanceof InvariantViolation)) throw err;
      this.checker.fail(this.now, 'core-invariant', err.message);
      const server = err.details['server'];
      if (typeof server === 'number') this.crash(server);
    }
  }

  private dispatchEvent(e: SimEvent): void {
    switch (e.kind) {
      case 'deliver':
        return this.deliverToServer(e.to, e.from, e.message, e.binary);
      case 'deliverClient':
        return this.clientSide.deliver(e.client, e.from, e.message, e.binary);
      case 'serverTimer':
        return this.onServerTimer(e.id, e.token);
      case 'clientTimer':
        return this.clientSide.onTimer(e.client, e.token);
      case 'taskStart':
        return this.onTaskStart(e.id, e.incarnation, e.key);
      case 'taskDone':
        return this.onTaskDone(e.id, e.incarnation, e.key);
      case 'load':
        return this.onLoadTick(e.id);
      case 'call':
        return e.fn();
    }
  }

  /**
   * Runs `fn` on the server's driver now, or when it resumes if paused; drops it if crashed.
   * The driver hands the input to the node and carries out what it produced.
   */
  private withServer(s: SimServer, fn: (driver: NodeDriver) => void): void {
    if (s.status === 'crashed' || s.driver === null) return;
    if (s.status === 'paused') {
      s.deferred.push(() => this.withServer(s, fn));
      return;
    }
    fn(s.driver);
  }

  private deliverToServer(
    id: number,
    from: Source,
    message: Message,
    binary: Uint8Array | null,
  ): void {
    const s = this.server(id);
    this.hash(1, this.now, id, typeCode(message.type));
    if (s.status === 'crashed') return;
    if (this.config.trace)
      this.log('deliver', `${sourceName(from)} -> s${id} ${describe(message)}`);
    this.withServer(s, (driver) => driver.receive(from, message, binary ?? undefined));
  }

  private onServerTimer(id: number, token: number): void {
    const s = this.server(id);
    if (token !== s.timerToken || s.status !== 'up' || s.driver === null) return;
    s.timerAt = Infinity;
    this.hash(3, this.now, id);
    s.driver.tick();
  }

  /** The driver of `s` carried out everything its node produced: check, and arm the timer. */
  private afterServerInput(s: SimServer, next: number): void {
    const node = s.node;
    if (node === null || s.status !== 'up') return;
    node.checkDeepInvariants();
    this.checker.onEpochObserved(this.now, s.id, node.epoch);
    if (next < s.timerAt) {
      s.timerAt = next;
      s.timerToken++;
      this.queue.push(next, { kind: 'serverTimer', id: s.id, token: s.timerToken });
    }
  }

  private route(from: Source, to: Source, message: Message, binary: Uint8Array | null): void {
    this.sentByType.set(message.type, (this.sentByType.get(message.type) ?? 0) + 1);
    const payload: Message = this.config.serialize
      ? (JSON.parse(JSON.stringify(message)) as Message)
      : message;
    const fromEnd = from.kind === 'server' ? serverEndpoint(from.id) : clientEndpoint(from.id);
    const toEnd = to.kind === 'server' ? serverEndpoint(to.id) : clientEndpoint(to.id);
    const arrivals = this.network.plan(fromEnd, toEnd, this.now);
    if (this.config.trace && arrivals.length === 0) {
      this.log('send', `${sourceName(from)} -> ${sourceName(to)} ${describe(message)} LOST`);
    }
    for (const t of arrivals) {
      if (to.kind === 'server') {
        this.queue.push(t, { kind: 'deliver', to: to.id, from, message: payload, binary });
      } else {
        const index = this.clientSide.indexOf(to.id);
        if (index < 0 || from.kind !== 'server') continue;
        this.queue.push(t, {
          kind: 'deliverClient',
          client: index,
          from: from.id,
          message: payload,
          binary,
        });
      }
    }
  }

  // ------------------------------------------------------------------------------------
  // Node events: workers, checks, trace
  // ------------------------------------------------------------------------------------

  /** A command the driver of `s` is about to carry out (only traced here). */
  private onCommand(s: SimServer, c: Command): void {
    if (this.config.trace && c.type === 'cancelTask') {
      this.log(
        'event',
        `s${s.id} drops queued ${c.client_id}/${c.task_id} (its client already has the result)`,
      );
    }
  }

  private onEvent(s: SimServer, e: NodeEvent): void {
    for (const listener of this.nodeEventListeners) listener(s, e);
    switch (e.type) {
      case 'becameLeader':
        this.checker.onBecameLeader(this.now, s.id, s.incarnation, e.epoch);
        break;
      case 'silenceStarted':
        this.checker.onSilenceStarted(this.now, s.id, e.until_ms);
        break;
      case 'silenceEnded':
        this.checker.onSilenceEnded(s.id);
        this.lastSilenceEnd = this.now;
        break;
      default:
        break;
    }
    if (this.config.trace) this.log('event', `s${s.id} ${describeEvent(e)}`);
  }

  private onTaskStart(id: number, incarnation: number, key: string): void {
    const s = this.server(id);
    if (s.incarnation !== incarnation) return;
    const job = s.workers.job(key);
    if (job === undefined) return;
    this.withServer(s, () => job.on.started());
    const exec = randomInt(this.random, this.config.exec_min_ms, this.config.exec_max_ms);
    this.queue.push(this.now + exec, { kind: 'taskDone', id, incarnation, key });
  }

  private onTaskDone(id: number, incarnation: number, key: string): void {
    const s = this.server(id);
    if (s.incarnation !== incarnation || s.status === 'crashed') return;
    if (s.status === 'paused') {
      s.deferred.push(() => this.onTaskDone(id, incarnation, key));
      return;
    }
    const job = s.workers.finish(key);
    if (job !== undefined) {
      const digest = expectedDigest(job.ref.client_id, job.ref.task_id);
      const bytes = new Uint8Array(RESULT_SIZE_BYTES);
      this.withServer(s, () => job.on.finished({ ok: true, bytes, digest }));
    }
    s.workers.startWorkers();
  }

  // ------------------------------------------------------------------------------------
  // Load
  // ------------------------------------------------------------------------------------

  private applyLoad(s: SimServer): void {
    const busy = s.workers.running.size * 10;
    const noise = this.config.fixed_loads === undefined ? randomInt(this.random, -5, 5) : 0;
    const cpu = Math.max(0, Math.min(100, s.baseCpu + busy + noise));
    const load = { cpu_pct: cpu, memory_used_pct: s.baseMem };
    this.withServer(s, (driver) => driver.setLocalLoad(load));
  }

  private onLoadTick(id: number): void {
    const s = this.server(id);
    this.queue.push(this.now + 1000, { kind: 'load', id });
    if (s.status === 'crashed') return;
    if (this.random.next() < 0.05) s.baseCpu = randomInt(this.random, 5, 80);
    this.applyLoad(s);
  }

  /** Sets a server's load (scenarios); it stays until changed again. */
  setLoad(id: number, cpu_pct: number, memory_used_pct: number): void {
    const s = this.server(id);
    s.baseCpu = cpu_pct;
    s.baseMem = memory_used_pct;
    this.applyLoad(s);
  }

  // ------------------------------------------------------------------------------------
  // Faults
  // ------------------------------------------------------------------------------------

  crash(id: number): void {
    const s = this.server(id);
    if (s.status === 'crashed') return;
    this.log('fault', `crash s${id}`);
    s.status = 'crashed';
    s.node = null;
    s.driver = null;
    s.deferred = [];
    s.workers = this.newWorkers(id, s.incarnation);
    this.checker.onServerReset(id);
    this.hash(10, this.now, id);
    this.notifyFault('crash', id);
  }

  restart(id: number): void {
    const s = this.server(id);
    if (s.status !== 'crashed') return;
    this.log('fault', `restart s${id}`);
    this.hash(11, this.now, id);
    this.bootServer(s);
    this.notifyFault('restart', id);
  }

  pause(id: number): void {
    const s = this.server(id);
    if (s.status !== 'up') return;
    this.log('fault', `pause s${id}`);
    s.status = 'paused';
    this.hash(12, this.now, id);
    this.notifyFault('pause', id);
  }

  resume(id: number): void {
    const s = this.server(id);
    if (s.status !== 'paused') return;
    this.log('fault', `resume s${id}`);
    this.hash(13, this.now, id);
    s.status = 'up';
    s.timerAt = Infinity;
    const deferred = s.deferred;
    s.deferred = [];
    s.driver?.tick();
    for (const fn of deferred) fn();
    this.notifyFault('resume', id);
  }

  partition(groups: number[][]): void {
    this.log(
      'fault',
      `partition ${groups.map((g) => g.map((i) => `s${i}`).join(',')).join(' | ')}`,
    );
    this.network.partition(groups);
    this.notifyFault('partition', null);
  }

  blockOneWay(from: number, to: number): void {
    this.log('fault', `block s${from} -> s${to}`);
    this.network.blockOneWay(from, to);
    this.notifyFault('partition', null);
  }

  heal(): void {
    this.log('fault', 'heal network');
    this.network.heal();
    this.notifyFault('heal', null);
  }

  setConditions(c: Partial<NetworkConditions>): void {
    this.network.conditions = { ...this.network.conditions, ...c };
  }

  setFailureSimulation(enabled: boolean): void {
    for (const s of this.servers)
      this.withServer(s, (driver) => driver.setFailureSimulation(enabled));
  }

  // ------------------------------------------------------------------------------------
  // Workload
  // ------------------------------------------------------------------------------------

  /** Submits one task from client `index` now; returns its id. */
  submit(index: number, taskId?: string): string {
    return this.clientSide.submit(index, taskId);
  }

  // ------------------------------------------------------------------------------------
  // Observation
  // ------------------------------------------------------------------------------------

  /** Servers that are up and not silent. */
  liveServers(): SimServer[] {
    return this.servers.filter(
      (s) => s.status === 'up' && s.node !== null && s.node.currentRole !== 'silent',
    );
  }

  /** The leader every live server follows, or null if they disagree (or follow nobody live). */
  agreedLeader(): { leader: number; epoch: number } | null {
    const live = this.liveServers();
    if (live.length === 0) return null;
    const first = live[0]?.node;
    if (first === undefined || first === null) return null;
    const leader = first.leaderId;
    const epoch = first.epoch;
    if (leader === null) return null;
    for (const s of live) {
      if (s.node?.leaderId !== leader || s.node.epoch !== epoch) return null;
    }
    const ls = this.server(leader);
    if (ls.status !== 'up' || ls.node?.currentRole !== 'leader') return null;
    return { leader, epoch };
  }

  /** Tasks submitted but not delivered. */
  pendingTasks(): string[] {
    return this.clientSide.pending();
  }

  /**
   * Every server's history and local task tables are empty (all work acknowledged), and its
   * runtime glue holds no result bytes. (A worker may still be running a task whose client
   * got the result elsewhere: its result is discarded when it comes.)
   */
  quiescent(): boolean {
    for (const s of this.servers) {
      const node = s.node;
      if (node === null) continue;
      if (s.driver !== null && s.driver.resultsHeld > 0) return false;
      const st = node.status(this.now);
      if (st.history.size > 0) return false;
      if (
        st.tasks.queued + st.tasks.running + st.tasks.cached_results + st.tasks.pending_removals >
        0
      )
        return false;
    }
    return this.pendingTasks().length === 0;
  }

  electionMessagesSent(): number {
    let n = 0;
    for (const [type, count] of this.sentByType) if (ELECTION_MESSAGE_TYPES.has(type)) n += count;
    return n;
  }

  log(kind: TraceKind, text: string): void {
    if (this.config.trace) this.trace.push({ time_ms: this.now, kind, text });
  }

  /** One line per server: role, leader, epoch, history size. */
  describeServers(): string[] {
    return this.servers.map((s) => {
      if (s.node === null) return `s${s.id} crashed`;
      const st = s.node.status(this.now);
      const leader = st.leader_id === null ? '-' : `s${st.leader_id}`;
      const state = s.status === 'paused' ? 'paused' : st.role;
      return `s${s.id} ${state} leader=${leader} epoch=${formatEpoch(st.epoch)} history=${st.history.size}`;
    });
  }
}

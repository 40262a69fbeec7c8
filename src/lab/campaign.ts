/**
 * `cloudp2p lab campaign`: the sharing workload across the lab while whole hosts fail. It uses
 * the running lab (or starts one, and takes it down at the end), sends operations to the agents
 * on the user hosts at a rate (workload.ts picks them), kills, revives and cuts off hosts on a
 * schedule (inject.ts), watches the cloud's leader and the course's failure simulation
 * (src/stress's observer), samples every server's counters, and records everything
 * (run-files.ts). At the end it undoes the faults, signs every agent in, lets them settle,
 * snapshots what every agent and the directory hold, and checks the whole record (checker.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { mulberry32, parsePrometheus } from '../stress/campaign.js';
import { ClusterObserver } from '../stress/observer.js';
import { JsonLinesWriter, type StressEvent } from '../stress/run-files.js';
import { errorMessage } from '../util/errors.js';
import { RecentRate } from '../util/stats.js';
import { checkCampaign, type AgentSnapshot, type CheckReport } from './checker.js';
import { parseHostConfig, type UserHostClient } from './control.js';
import type { HostFault } from './inject.js';
import { Lab, type LabStartOptions } from './lab.js';
import type { AgentEventRecord, LabOp, OpOutcome, OpRecord } from './ops.js';
import {
  LAB_RUN_FILES,
  LAB_TOOL,
  directorySeries,
  type LabRunInfo,
  type MetricsSample,
} from './run-files.js';
import { LAB_PORTS, cloudHosts, userHosts, type LabHost } from './topology.js';
import { Workload, type WorkloadOptions } from './workload.js';

export interface CampaignOptions {
  runDir: string;
  lab: number;
  /** Start a lab with these options when none runs (it is taken down at the end unless keepLab). */
  startLab: Omit<LabStartOptions, 'lab' | 'log'>;
  keepLab: boolean;
  /** Stop after this many operations, or after this long (at least one is set). */
  ops: number | null;
  duration_ms: number | null;
  rate_per_s: number;
  max_in_flight: number;
  faults: HostFault[];
  workload: WorkloadOptions;
  seed: number;
  /** How long the end may wait for every copy and update to be delivered. */
  settle_ms: number;
  command: string[];
  log(line: string): void;
}

export interface CampaignProgress {
  phase: string;
  issued: number;
  done: number;
  ok: number;
  failed: number;
  in_flight: number;
  recent_per_s: number;
  elapsed_s: number;
  leader: number | null;
  faults: string[];
  total: number | null;
  duration_s: number | null;
}

const METRICS_EVERY_MS = 5000;
const OBSERVER_POLL_MS = 250;
const LEADER_WAIT_MS = 120_000;
const HOST_WAIT_MS = 300_000;
/** Behind schedule by more than this, the schedule restarts instead of sending a burst. */
const MAX_LAG_MS = 2000;

interface ActiveFault {
  fault: HostFault;
  host: LabHost;
  undo: (() => Promise<void>) | null;
}

export class LabCampaign {
  readonly runId = randomBytes(3).toString('hex');
  private readonly ops: JsonLinesWriter<OpRecord>;
  private readonly agentEvents: JsonLinesWriter<AgentEventRecord>;
  private readonly events: JsonLinesWriter<StressEvent>;
  private readonly metrics: JsonLinesWriter<MetricsSample>;
  private readonly info: LabRunInfo;
  private readonly records: OpRecord[] = [];
  private readonly collected: AgentEventRecord[] = [];
  private readonly hostDown: { host: string; from_ms: number; to_ms: number | null }[] = [];
  private readonly active = new Map<string, ActiveFault>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Operations under way. */
  private readonly running = new Set<Promise<unknown>>();
  /** Injections, undoings and samples under way. */
  private readonly pending = new Set<Promise<unknown>>();
  private readonly collectors: Promise<void>[] = [];
  private readonly recent = new RecentRate();
  private lab: Lab | null = null;
  private startedLab = false;
  private observer: ClusterObserver | null = null;
  private workload: Workload | null = null;
  private collecting = false;
  private aborted = false;
  private phase = 'starting';
  private seq = 0;
  private done = 0;
  private ok = 0;
  private inFlight = 0;
  private idleWaits = 0;
  private loadStarted = 0;
  private loadEnded = 0;

  constructor(private readonly options: CampaignOptions) {
    mkdirSync(options.runDir, { recursive: true });
    const file = (name: string): string => join(options.runDir, name);
    this.ops = new JsonLinesWriter(file(LAB_RUN_FILES.ops));
    this.agentEvents = new JsonLinesWriter(file(LAB_RUN_FILES.agentEvents));
    this.events = new JsonLinesWriter(file(LAB_RUN_FILES.events));
    this.metrics = new JsonLinesWriter(file(LAB_RUN_FILES.metrics));
    this.info = {
      version: 1,
      tool: LAB_TOOL,
      command: options.command,
      run_id: this.runId,
      status: 'running',
      started_at: new Date().toISOString(),
      ended_at: null,
      error: null,
      config: {
        ops: options.ops,
        duration_ms: options.duration_ms,
        rate_per_s: options.rate_per_s,
        max_in_flight: options.max_in_flight,
        seed: options.seed,
        faults: options.faults.map(describeFault),
        workload: options.workload,
      },
      lab: { lab: options.lab, subnet: '', options: { ...options.startLab }, hosts: [], agents: 0 },
      machine: {
        cpus: cpus().length,
        node: process.version,
        load_average_start: loadavg().map(round2),
        load_average_end: null,
      },
      driver: { event_loop_delay_ms: null },
      totals: null,
      verdict: null,
      final: null,
    };
    this.saveInfo();
  }

  progress(): CampaignProgress {
    const now = performance.now();
    const elapsed_s =
      this.loadStarted === 0 ? 0 : ((this.loadEnded || now) - this.loadStarted) / 1000;
    return {
      phase: this.phase,
      issued: this.seq,
      done: this.done,
      ok: this.ok,
      failed: this.done - this.ok,
      in_flight: this.inFlight,
      recent_per_s: this.recent.perSecond(now, elapsed_s),
      elapsed_s,
      leader: this.observer?.leader() ?? null,
      faults: [...this.active.values()].map((a) => `${a.fault.kind} ${a.host.name}`),
      total: this.options.ops,
      duration_s: this.options.duration_ms === null ? null : this.options.duration_ms / 1000,
    };
  }

  /** Stops issuing operations; the campaign still heals, settles and checks what it did. */
  abort(): void {
    this.aborted = true;
  }

  async run(): Promise<{ info: LabRunInfo; check: CheckReport | null }> {
    const delay = monitorEventLoopDelay({ resolution: 10 });
    let check: CheckReport | null = null;
    try {
      const lab = await this.openLab();
      this.lab = lab;
      const clients = new Map(userHosts(lab.topology).map((h) => [h.name, lab.userHost(h)]));
      const agents: { name: string; host: string }[] = [];
      for (const host of userHosts(lab.topology)) {
        const status = await lab.waitForUserHost(host, HOST_WAIT_MS);
        for (const a of status.agents) agents.push({ name: a.username, host: host.name });
      }
      this.info.lab.agents = agents.length;
      const images = this.imageDigests(lab);
      this.workload = new Workload(
        agents,
        Object.keys(images),
        mulberry32(this.options.seed),
        this.options.workload,
      );
      this.startCollectors(lab);
      this.startObserver(lab);
      const sampler = this.startMetrics(lab);
      delay.enable();
      await this.drive(clients, agents);
      delay.disable();
      this.info.driver.event_loop_delay_ms = {
        p50: round2(delay.percentile(50) / 1e6),
        p99: round2(delay.percentile(99) / 1e6),
        max: round2(delay.max / 1e6),
      };
      await this.undoFaults();
      clearInterval(sampler);
      await this.sampleMetrics(lab);
      const snapshots = await this.finalSync(lab, clients, agents);
      await this.stopCollectors();
      this.phase = 'checking';
      check = checkCampaign({
        records: this.records,
        events: this.collected,
        snapshots,
        imageSha256: images,
        hostDown: this.hostDown,
      });
      writeFileSync(
        join(this.options.runDir, LAB_RUN_FILES.check),
        `${JSON.stringify(check, null, 2)}\n`,
      );
      const failed = check.checks.filter((c) => !c.pass).map((c) => c.name);
      this.info.verdict = { pass: failed.length === 0 && !this.aborted, failed_checks: failed };
      this.info.status = this.aborted ? 'interrupted' : 'finished';
    } catch (err) {
      this.info.status = this.aborted ? 'interrupted' : 'crashed';
      this.info.error = errorMessage(err);
      throw err;
    } finally {
      delay.disable();
      await this.teardown();
    }
    return { info: this.info, check };
  }

  private async openLab(): Promise<Lab> {
    this.phase = 'opening the lab';
    let lab: Lab;
    try {
      lab = Lab.open(this.options.lab);
      this.options.log(`using the running lab ${this.options.lab} (${lab.dir})`);
    } catch {
      this.phase = 'starting the lab';
      lab = await Lab.start({
        ...this.options.startLab,
        lab: this.options.lab,
        log: this.options.log,
      });
      this.startedLab = true;
    }
    const wantsSim = this.options.startLab.failure_simulation !== null;
    if (wantsSim && lab.options.failure_simulation === null)
      this.options.log(
        'WARNING: this lab was started without --failure-simulation; the servers will not run it in this campaign',
      );
    this.info.lab = {
      lab: lab.lab,
      subnet: lab.topology.subnet,
      options: lab.options,
      hosts: lab.topology.hosts.map((h) => ({ name: h.name, role: h.role, address: h.address })),
      agents: 0,
    };
    this.saveInfo();
    return lab;
  }

  private imageDigests(lab: Lab): Record<string, string> {
    const host = userHosts(lab.topology)[0] as LabHost;
    const config = parseHostConfig(readFileSync(join(lab.hostDir(host), 'host.json'), 'utf8'));
    return Object.fromEntries(
      config.images.map((i) => [
        i.name,
        createHash('sha256').update(readFileSync(i.path)).digest('hex'),
      ]),
    );
  }

  private emit(event: StressEvent & { host?: string }): void {
    this.events.write(event);
  }

  // ---- The workload ------------------------------------------------------------------------

  private async drive(
    clients: Map<string, UserHostClient>,
    agents: { name: string; host: string }[],
  ): Promise<void> {
    const o = this.options;
    const workload = this.workload as Workload;
    const hostOf = new Map(agents.map((a) => [a.name, a.host]));
    this.phase = 'workload';
    this.loadStarted = performance.now();
    this.emit({ at_ms: Date.now(), kind: 'load_start', source: 'driver' });
    this.scheduleFaults();
    const endAt = o.duration_ms === null ? Infinity : this.loadStarted + o.duration_ms;
    const total = o.ops ?? Infinity;
    let base = this.loadStarted;
    let n = 0;
    let wake: () => void = () => undefined;
    const completed = (): Promise<void> => new Promise((resolve) => (wake = resolve));
    while (!this.aborted && this.seq < total && performance.now() < endAt) {
      let due = base + (n * 1000) / o.rate_per_s;
      const now = performance.now();
      if (now - due > MAX_LAG_MS) {
        base = now - (n * 1000) / o.rate_per_s;
        due = now;
      }
      if (due > now) await sleep(due - now);
      while (this.inFlight >= o.max_in_flight && !this.aborted) await completed();
      const op = workload.next();
      if (!op) {
        this.idleWaits++;
        await Promise.race([completed(), sleep(50)]);
        continue;
      }
      n++;
      const host = hostOf.get(op.agent) as string;
      const client = clients.get(host) as UserHostClient;
      const seq = ++this.seq;
      const duringFault = this.active.size > 0 || this.observer?.agreement === null;
      this.inFlight++;
      const running = this.execute(client, op, seq, host, duringFault).finally(() => {
        this.inFlight--;
        this.running.delete(running);
        wake();
      });
      this.running.add(running);
    }
    this.phase = 'waiting for the last operations';
    await Promise.allSettled([...this.running]);
    this.loadEnded = performance.now();
    this.emit({ at_ms: Date.now(), kind: 'load_end', source: 'driver' });
  }

  private async execute(
    client: UserHostClient,
    op: LabOp,
    seq: number,
    host: string,
    duringFault: boolean,
  ): Promise<void> {
    const started = Date.now();
    let outcome: OpOutcome;
    try {
      outcome = await client.execute(op);
    } catch (err) {
      outcome = {
        start_ms: started,
        latency_ms: Date.now() - started,
        ok: false,
        result: null,
        error: {
          code: (err as { code?: string }).code ?? 'control_error',
          message: errorMessage(err),
        },
      };
    }
    this.workload?.complete(op, outcome);
    const record: OpRecord = { seq, op, host, during_fault: duringFault, ...outcome };
    this.records.push(record);
    this.ops.write(record);
    this.done++;
    if (outcome.ok) this.ok++;
    this.recent.record(performance.now());
  }

  private track(task: Promise<unknown>): void {
    this.pending.add(task);
    void task.finally(() => this.pending.delete(task));
  }

  // ---- Faults ---------------------------------------------------------------------------------

  private scheduleFaults(): void {
    for (const fault of this.options.faults) {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.track(
          this.inject(fault).catch((err: unknown) =>
            this.note(`${fault.name} failed: ${errorMessage(err)}`, 'injector_error'),
          ),
        );
      }, fault.at_ms);
      this.timers.add(timer);
    }
  }

  private note(detail: string, kind: StressEvent['kind'] = 'note'): void {
    this.options.log(detail);
    this.emit({ at_ms: Date.now(), kind, source: 'injector', detail });
  }

  private resolveHost(fault: HostFault): LabHost | string {
    const lab = this.lab as Lab;
    const clouds = cloudHosts(lab.topology);
    if (fault.host === 'leader' || fault.host === 'follower') {
      const leader = this.observer?.leader() ?? null;
      if (leader === null) return 'no agreed leader right now';
      const pool = clouds.filter((h) =>
        fault.host === 'leader' ? h.index === leader : h.index !== leader,
      );
      const usable = pool.filter((h) => lab.hostState(h.name) === 'up' && !this.active.has(h.name));
      return usable[0] ?? `no ${fault.host} host is up`;
    }
    const host = lab.topology.hosts.find((h) => h.name === fault.host);
    if (!host) return `no host ${fault.host}`;
    if (lab.hostState(host.name) !== 'up' || this.active.has(host.name))
      return `${host.name} is already down or cut off`;
    return host;
  }

  private async inject(fault: HostFault): Promise<void> {
    if (this.aborted) return;
    const lab = this.lab as Lab;
    const host = this.resolveHost(fault);
    if (typeof host === 'string') return this.note(`${fault.name} skipped: ${host}`);
    const at_ms = Date.now();
    const server = host.role === 'cloud' ? host.index : null;
    const wasLeader = server !== null && this.observer?.noteFault(server, at_ms) === true;
    if (fault.kind === 'kill') {
      const active: ActiveFault = { fault, host, undo: null };
      this.active.set(host.name, active);
      if (host.role === 'users') {
        this.workload?.setHostOnline(host.name, false);
        this.hostDown.push({ host: host.name, from_ms: at_ms, to_ms: null });
      }
      const pids = await lab.kill(host.name);
      this.emit({
        at_ms,
        kind: 'kill',
        server,
        host: host.name,
        source: fault.name,
        was_leader: wasLeader,
        detail: `kill -9 of every process on ${host.name} (${pids.length}: ${host.role === 'cloud' ? 'server and database node' : 'all its agents'})`,
      });
      this.options.log(`${fault.name}: killed ${host.name}${wasLeader ? ' (the leader)' : ''}`);
      active.undo = () => this.revive(host, fault.name);
      if (fault.duration_ms !== null) this.after(fault.duration_ms, host.name, active);
      return;
    }
    await lab.cut(host.name);
    const active: ActiveFault = {
      fault,
      host,
      undo: async () => {
        await lab.heal(host.name);
        this.emit({ at_ms: Date.now(), kind: 'heal', server, host: host.name, source: fault.name });
        this.options.log(`${fault.name}: ${host.name} connected again`);
      },
    };
    this.active.set(host.name, active);
    this.emit({
      at_ms,
      kind: 'partition',
      server,
      host: host.name,
      source: fault.name,
      was_leader: wasLeader,
      detail: `every packet to and from ${host.name} dropped`,
    });
    this.options.log(`${fault.name}: cut ${host.name} off${wasLeader ? ' (the leader)' : ''}`);
    this.after(fault.duration_ms ?? 20_000, host.name, active);
  }

  private async revive(host: LabHost, source: string): Promise<void> {
    const lab = this.lab as Lab;
    await lab.revive(host.name);
    const server = host.role === 'cloud' ? host.index : null;
    this.emit({
      at_ms: Date.now(),
      kind: 'restart',
      server,
      host: host.name,
      source,
      detail: `${host.name} started again`,
    });
    this.options.log(`${source}: ${host.name} started again`);
    if (host.role === 'users') {
      await lab.waitForUserHost(host, HOST_WAIT_MS);
      const down = this.hostDown.find((d) => d.host === host.name && d.to_ms === null);
      if (down) down.to_ms = Date.now();
      this.workload?.setHostOnline(host.name, true);
    }
  }

  private after(delay_ms: number, name: string, active: ActiveFault): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.track(
        this.undo(name, active).catch((err: unknown) =>
          this.note(`undoing ${active.fault.name} failed: ${errorMessage(err)}`, 'injector_error'),
        ),
      );
    }, delay_ms);
    this.timers.add(timer);
  }

  private async undo(name: string, active: ActiveFault): Promise<void> {
    if (this.active.get(name) !== active) return;
    await active.undo?.();
    this.active.delete(name);
  }

  private async undoFaults(): Promise<void> {
    this.phase = 'healing and reviving';
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.allSettled([...this.pending]);
    for (const [name, active] of [...this.active]) await this.undo(name, active);
    const lab = this.lab as Lab;
    try {
      const agreed = await lab.waitForLeader(LEADER_WAIT_MS);
      this.info.final = {
        agreed_leader: agreed.leader,
        detail: `all cloud hosts follow server ${agreed.leader} (epoch ${agreed.epoch})`,
      };
    } catch (err) {
      this.info.final = { agreed_leader: null, detail: errorMessage(err) };
    }
    this.emit({
      at_ms: Date.now(),
      kind: 'run_end',
      source: 'driver',
      leader: this.info.final.agreed_leader,
      detail: this.info.final.detail,
    });
  }

  // ---- Watching -------------------------------------------------------------------------------

  private startObserver(lab: Lab): void {
    const cloud = lab.cloud();
    const ids = cloudHosts(lab.topology).map((h) => h.index);
    this.observer = new ClusterObserver(
      {
        ids: () => ids.filter((id) => lab.hostState(`cloud-${id}`) !== 'killed'),
        status: (id, timeout_ms) => cloud.status(id, timeout_ms),
      },
      {
        poll_ms: OBSERVER_POLL_MS,
        isolated: (id) => this.active.get(`cloud-${id}`)?.fault.kind === 'cut',
        emit: (event) => this.emit(event),
      },
    );
    this.observer.start();
  }

  private startMetrics(lab: Lab): NodeJS.Timeout {
    const timer = setInterval(() => this.track(this.sampleMetrics(lab)), METRICS_EVERY_MS);
    timer.unref();
    return timer;
  }

  private async sampleMetrics(lab: Lab): Promise<void> {
    await Promise.all(
      cloudHosts(lab.topology).map(async (host) => {
        if (lab.hostState(host.name) !== 'up') return;
        try {
          const response = await fetch(`http://${host.address}:${LAB_PORTS.http}/metrics`, {
            signal: AbortSignal.timeout(2000),
          });
          if (!response.ok) return;
          const text = await response.text();
          const metrics = parsePrometheus(text);
          for (const name of Object.keys(metrics))
            if (name.startsWith('cloudp2p_process_')) delete metrics[name];
          const directory = directorySeries(text);
          this.metrics.write({ at_ms: Date.now(), server: host.index, metrics, directory });
        } catch {
          // a host that does not answer has no sample
        }
      }),
    );
  }

  /** Follows every user host's agent events (a host that restarts starts counting again). */
  private startCollectors(lab: Lab): void {
    this.collecting = true;
    for (const host of userHosts(lab.topology)) {
      const client = lab.userHost(host);
      const loop = async (): Promise<void> => {
        let after = (await client.status().catch(() => null))?.events.last_seq ?? 0;
        let pid: number | null = null;
        while (this.collecting) {
          try {
            const answer = await client.events(after, 1000);
            if (pid !== null && answer.runner !== pid) {
              // The host was killed and started again: its events count from 1 again.
              pid = answer.runner;
              after = 0;
              continue;
            }
            pid = answer.runner;
            for (const e of answer.events) {
              if (e.seq <= after) continue;
              const { seq: _seq, ...record } = e;
              this.collected.push(record);
              this.agentEvents.write(record);
            }
            after = Math.max(after, answer.last_seq);
          } catch {
            await sleep(500);
          }
        }
      };
      this.collectors.push(loop());
    }
  }

  private async stopCollectors(): Promise<void> {
    await sleep(1500); // the last events of the final sync
    this.collecting = false;
    await Promise.allSettled(this.collectors);
  }

  // ---- The end: everyone back, settle, snapshot --------------------------------------------

  private async finalSync(
    lab: Lab,
    clients: Map<string, UserHostClient>,
    agents: { name: string; host: string }[],
  ): Promise<AgentSnapshot[]> {
    this.phase = 'signing everyone in';
    // The hosts answer (some agents are signed out on purpose: they are signed in below).
    for (const host of userHosts(lab.topology))
      await lab.waitForUserHost(host, HOST_WAIT_MS, false).catch(() => undefined);
    const workload = this.workload as Workload;
    for (const agent of agents) {
      if (workload.isOnline(agent.name)) continue;
      const op: LabOp = { kind: 'sign_in', agent: agent.name };
      await this.execute(
        clients.get(agent.host) as UserHostClient,
        op,
        ++this.seq,
        agent.host,
        false,
      );
    }
    this.phase = 'settling';
    const deadline = Date.now() + this.options.settle_ms;
    let snapshots: AgentSnapshot[] = [];
    for (let round = 1; ; round++) {
      snapshots = await this.snapshots(clients, agents);
      const waiting = undelivered(snapshots);
      this.options.log(
        `settle round ${round}: ${snapshots.length} agents, ${waiting} grants not delivered yet`,
      );
      if (waiting === 0 || Date.now() > deadline) break;
      await sleep(3000);
    }
    writeFileSync(
      join(this.options.runDir, LAB_RUN_FILES.snapshots),
      `${JSON.stringify(snapshots)}\n`,
    );
    return snapshots;
  }

  private async snapshots(
    clients: Map<string, UserHostClient>,
    agents: { name: string; host: string }[],
  ): Promise<AgentSnapshot[]> {
    const out: AgentSnapshot[] = [];
    const queue = [...agents];
    const worker = async (): Promise<void> => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        try {
          out.push(
            (await (clients.get(next.host) as UserHostClient).snapshot(next.name)) as AgentSnapshot,
          );
        } catch (err) {
          this.options.log(`no snapshot of ${next.name}: ${errorMessage(err)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
    return out.sort((a, b) => a.username.localeCompare(b.username));
  }

  private async teardown(): Promise<void> {
    this.phase = 'stopping';
    for (const timer of this.timers) clearTimeout(timer);
    this.collecting = false;
    await this.observer?.stop().catch(() => undefined);
    const lab = this.lab;
    if (lab) {
      const logs = join(this.options.runDir, 'servers', 'logs');
      mkdirSync(logs, { recursive: true });
      for (const host of cloudHosts(lab.topology)) {
        const log = join(lab.hostDir(host), 'server.log');
        if (existsSync(log)) copyFileSync(log, join(logs, `server-${host.index}.log`));
      }
    }
    const elapsed =
      ((this.loadEnded || performance.now()) - (this.loadStarted || performance.now())) / 1000;
    this.info.totals = {
      ops: this.done,
      ok: this.ok,
      failed: this.done - this.ok,
      load_duration_s: round2(elapsed),
      ops_per_s: round2(this.done / Math.max(0.001, elapsed)),
      idle_waits: this.idleWaits,
    };
    if (this.startedLab && !this.options.keepLab)
      await Lab.down(this.options.lab, () => undefined).catch(() => undefined);
    await Promise.all([
      this.ops.close(),
      this.agentEvents.close(),
      this.events.close(),
      this.metrics.close(),
    ]);
    this.info.ended_at = new Date().toISOString();
    this.info.machine.load_average_end = loadavg().map(round2);
    this.saveInfo();
  }

  private saveInfo(): void {
    writeFileSync(
      join(this.options.runDir, LAB_RUN_FILES.run),
      `${JSON.stringify(this.info, null, 2)}\n`,
    );
  }
}

/**
 * Grants still on their way: pending at the owner, or known to the viewer while its copy has not
 * arrived (an accept whose answer was lost is applied at the directory before the owner's agent
 * hears of it, so only the viewer's side shows it waiting).
 */
function undelivered(snapshots: readonly AgentSnapshot[]): number {
  let n = 0;
  for (const s of snapshots) {
    for (const g of s.grants) if (g.delivery === 'pending') n++;
    for (const r of s.received) if (r.state === 'waiting_for_copy') n++;
  }
  return n;
}

export function describeFault(f: HostFault): string {
  const when = `at ${f.at_ms / 1000} s`;
  if (f.kind === 'kill')
    return `kill ${f.host} ${when}${f.duration_ms === null ? '' : `, revive after ${f.duration_ms / 1000} s`}`;
  return `cut ${f.host} off ${when} for ${(f.duration_ms ?? 0) / 1000} s`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}

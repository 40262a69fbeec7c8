/**
 * One stress campaign: starts a cloud (or uses server configs), drives it with many concurrent
 * clients while failures are injected, verifies every result, and writes the run directory
 * (see run-files.ts). Cleans up everything it started or created, also when interrupted.
 *
 * Design: all clients live in this one driver process, each a separate CloudClient with its own
 * id and its own connections to every server (as separate client processes would have). One
 * process is enough: a client's work on the event loop is a few small messages per request,
 * while the CPU-heavy part, verifying results (about 8 ms per image), runs in worker threads
 * (verifier.ts). The event loop's delay is measured during the run and saved in run.json, so a
 * driver that distorted latencies would show it.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { CloudClient } from '../client/cloud-client.js';
import { DIAL, parseEndpoint, type Endpoint } from '../transport/endpoint.js';
import { LocalCluster, type GenerateOptions } from '../server/local-cluster.js';
import { CloudP2PError, ExitCode, errorMessage } from '../util/errors.js';
import { RecentRate } from '../util/stats.js';
import { loadImageSet, type StressImage } from './images.js';
import { FaultInjector } from './injectors.js';
import { NetnsNetwork, SERVER_HTTP_PORT, SERVER_PORT, netnsSupport } from './netns.js';
import { ClusterObserver } from './observer.js';
import { OwnerFile, cleanupStaleRuns } from './owners.js';
import { JsonLinesWriter, RUN_FILES, type StressEvent, type StressRecord } from './run-files.js';
import type { FailureSimSpec, FaultSpec, InjectorSpec } from './spec.js';
import { MAX_VERIFY_BACKLOG, Verifier } from './verifier.js';

export interface StressOptions {
  runDir: string;
  /** Cloud size when the tool generates configs (ignored with `serverConfigs`). */
  servers: number;
  /** Start the cloud from these server configs instead of generating them. */
  serverConfigs: string[] | null;
  /** With serverConfigs: the cloud already runs; drive it without starting or stopping it. */
  attach: boolean;
  clients: number;
  /** Stop after this many requests, or after `duration_ms` (at least one is set). */
  requests: number | null;
  duration_ms: number | null;
  /** Total request rate over all clients, or null for as fast as the clients go. */
  rate_per_s: number | null;
  images: string[];
  injectors: InjectorSpec[];
  taskDeadline_ms: number;
  threadPoolSize: number;
  heartbeat_interval_secs: number;
  failure_timeout_secs: number;
  election_timeout_secs: number;
  verifyThreads: number;
  /** Put the servers in network namespaces even without a partition injector. */
  netns: boolean;
  poll_ms: number;
  seed: number;
  /** How the tool was invoked, for run.json. */
  command: string[];
  /** Human-readable progress lines (warnings, phases). */
  log(line: string): void;
}

export interface LiveProgress {
  phase: string;
  started: number;
  done: number;
  ok: number;
  failed: number;
  /** Requests waiting for their result. */
  inFlight: number;
  /** Results waiting for (or in) verification. */
  verifying: number;
  elapsed_s: number;
  /** Completions per second over the last few seconds. */
  recentRate: number;
  leader: number | null;
  faults: number;
  total: number | null;
  duration_s: number | null;
}

export interface RunTotals {
  requests: number;
  ok: number;
  failed: number;
  verify_failed: number;
  /** Submitted but never delivered with a verified result. */
  lost: number;
  /** Results that differed from the one delivered for the same task (must be 0). */
  conflicts: number;
  /** Requests that moved to another server at least once. */
  failed_over: number;
  load_duration_s: number;
  throughput_per_s: number;
}

/** The fields every run's info.json starts with (stress runs and lab runs alike). */
export interface RunInfoHead<Tool extends string> {
  version: 1;
  tool: Tool;
  command: string[];
  run_id: string;
  status: 'running' | 'finished' | 'interrupted' | 'crashed';
  started_at: string;
  ended_at: string | null;
  error: string | null;
}

export interface RunInfo extends RunInfoHead<'cloudp2p stress'> {
  config: Omit<StressOptions, 'log' | 'command'>;
  cloud: {
    size: number;
    members: { id: number; address: string; http: string }[];
    netns: { slot: number; subnet: string } | null;
    failure_simulation: { interval_ms: number; max_silence_ms: number } | null;
  };
  skipped_injectors: { name: string; reason: string }[];
  machine: {
    cpus: number;
    node: string;
    platform: string;
    load_average_start: number[];
    load_average_end: number[] | null;
  };
  driver: {
    clients: number;
    verify_threads: number;
    event_loop_delay_ms: { p50: number; p99: number; max: number } | null;
  };
  totals: RunTotals | null;
  final: {
    agreed_leader: number | null;
    epoch: number | null;
    detail: string;
    servers: { id: number; role: string; leader: number | null; epoch: string; synced: boolean }[];
  } | null;
  server_metrics: Record<string, Record<string, number>>;
}

/** Poll /status this often (ms) by default. */
export const DEFAULT_POLL_MS = 200;
const CONNECT_TIMEOUT_MS = 30_000;
/**
 * How long the cloud may take to agree on a leader, at the start and at the end: deadlines for
 * failure, not speed (a healthy cloud goes on the moment it agrees). On two busy cores three
 * servers needed well over 30 s to start.
 */
const LEADER_WAIT_MS = 120_000;
const FINAL_LEADER_WAIT_MS = 120_000;
/** After Ctrl-C, requests in flight get this long before their clients are closed. */
const ABORT_GRACE_MS = 3000;

export class StressCampaign {
  readonly runId = randomBytes(3).toString('hex');
  private readonly records: JsonLinesWriter<StressRecord>;
  private readonly events: JsonLinesWriter<StressEvent>;
  private readonly info: RunInfo;
  private cluster: LocalCluster | null = null;
  private netns: NetnsNetwork | null = null;
  private owner: OwnerFile | null = null;
  private observer: ClusterObserver | null = null;
  private injector: FaultInjector | null = null;
  private verifier: Verifier | null = null;
  private clients: CloudClient[] = [];
  private aborted = false;
  private phase = 'starting';
  private faults = 0;
  private readonly counters = {
    started: 0,
    answered: 0,
    done: 0,
    ok: 0,
    failed: 0,
    verifyFailed: 0,
    conflicts: 0,
    failedOver: 0,
  };
  private readonly recent = new RecentRate();
  private loadStarted_ms = 0;
  private loadEnded_ms = 0;
  private readonly random: () => number;
  private readonly exitHandler = (): void => this.emergencyCleanup();

  constructor(private readonly options: StressOptions) {
    mkdirSync(options.runDir, { recursive: true });
    this.records = new JsonLinesWriter(join(options.runDir, RUN_FILES.records));
    this.events = new JsonLinesWriter(join(options.runDir, RUN_FILES.events));
    this.random = mulberry32(options.seed);
    const { log: _log, command, ...config } = options;
    this.info = {
      version: 1,
      tool: 'cloudp2p stress',
      command,
      run_id: this.runId,
      status: 'running',
      started_at: new Date().toISOString(),
      ended_at: null,
      error: null,
      config,
      cloud: { size: 0, members: [], netns: null, failure_simulation: null },
      skipped_injectors: [],
      machine: {
        cpus: cpus().length,
        node: process.version,
        platform: `${process.platform} ${process.arch}`,
        load_average_start: loadavg().map(round2),
        load_average_end: null,
      },
      driver: {
        clients: options.clients,
        verify_threads: options.verifyThreads,
        event_loop_delay_ms: null,
      },
      totals: null,
      final: null,
      server_metrics: {},
    };
    this.saveInfo();
  }

  progress(): LiveProgress {
    const now = performance.now();
    const elapsed_s =
      this.loadStarted_ms === 0 ? 0 : ((this.loadEnded_ms || now) - this.loadStarted_ms) / 1000;
    return {
      phase: this.phase,
      started: this.counters.started,
      done: this.counters.done,
      ok: this.counters.ok,
      failed: this.counters.failed + this.counters.verifyFailed,
      inFlight: this.counters.started - this.counters.answered,
      verifying: this.counters.answered - this.counters.done,
      elapsed_s,
      recentRate: this.recent.perSecond(now, elapsed_s),
      leader: this.observer?.leader() ?? null,
      faults: this.faults,
      total: this.options.requests,
      duration_s: this.options.duration_ms === null ? null : this.options.duration_ms / 1000,
    };
  }

  /** Stop sending; requests in flight get a short grace period, then everything is torn down. */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const grace = setTimeout(() => {
      for (const client of this.clients) client.close();
    }, ABORT_GRACE_MS);
    grace.unref();
  }

  async run(): Promise<RunInfo> {
    process.once('exit', this.exitHandler);
    const delay = monitorEventLoopDelay({ resolution: 10 });
    try {
      for (const line of cleanupStaleRuns()) this.options.log(`cleanup of an earlier run: ${line}`);
      this.owner = new OwnerFile(this.options.runDir);
      this.emit({
        at_ms: Date.now(),
        kind: 'run_start',
        source: 'driver',
        detail: `run ${this.runId}`,
      });
      const images = loadImageSet(this.options.images);
      await this.startCloud();
      if (this.aborted)
        throw new CloudP2PError('interrupted', 'interrupted while starting', ExitCode.failure);
      this.verifier = new Verifier(
        images.map((image) => image.bytes),
        this.options.verifyThreads,
      );
      this.phase = 'connecting clients';
      await this.connectClients();
      delay.enable();
      await this.drive(images);
      delay.disable();
      this.info.driver.event_loop_delay_ms = {
        p50: round2(delay.percentile(50) / 1e6),
        p99: round2(delay.percentile(99) / 1e6),
        max: round2(delay.max / 1e6),
      };
      await this.finish();
      this.info.status = this.aborted ? 'interrupted' : 'finished';
    } catch (err) {
      this.info.status = this.aborted ? 'interrupted' : 'crashed';
      this.info.error = errorMessage(err);
      throw err;
    } finally {
      delay.disable();
      await this.teardown();
      process.removeListener('exit', this.exitHandler);
    }
    return this.info;
  }

  private emit(event: StressEvent): void {
    if (['kill', 'pause', 'partition', 'silence_start'].includes(event.kind)) this.faults++;
    this.events.write(event);
  }

  private saveInfo(): void {
    writeFileSync(
      join(this.options.runDir, RUN_FILES.run),
      `${JSON.stringify(this.info, null, 2)}\n`,
    );
  }

  private async startCloud(): Promise<void> {
    const o = this.options;
    this.phase = 'starting the cloud';
    let faults = o.injectors.filter((spec): spec is FaultSpec => spec.kind !== 'failure-sim');
    const failureSim = o.injectors.find(
      (spec): spec is FailureSimSpec => spec.kind === 'failure-sim',
    );
    if (o.attach && !o.serverConfigs)
      throw new CloudP2PError(
        'usage',
        'attaching needs the server configs of the running cloud',
        ExitCode.usage,
      );
    if (o.attach && faults.length > 0)
      throw new CloudP2PError(
        'usage',
        `${faults.map((f) => f.name).join(', ')}: kill, pause and partition need the servers started by this run; an attached cloud can only be observed (its own failure simulation included)`,
        ExitCode.usage,
      );
    if (failureSim && o.attach)
      o.log(
        'attached: failure-sim only observes; the servers use their own [failure_simulation] settings',
      );
    if (failureSim && !o.serverConfigs) {
      // The servers refuse overlapping silences; say so before starting anything.
      const guard_ms =
        failureSim.max_silence_ms + (o.failure_timeout_secs + 2 * o.election_timeout_secs) * 1000;
      if (failureSim.interval_ms <= guard_ms)
        throw new CloudP2PError(
          'usage',
          `failure-sim: interval (${failureSim.interval_ms} ms) must exceed max-silence + failure timeout + 2 x election timeout (${guard_ms} ms), so silences never overlap`,
          ExitCode.usage,
        );
    }
    const wantsNetns = o.netns || faults.some((spec) => spec.kind === 'partition');
    if (wantsNetns) {
      const support = await netnsSupport();
      if (!support.ok) {
        const reason = `network namespaces unavailable: ${support.reason}`;
        for (const spec of faults.filter((s) => s.kind === 'partition'))
          this.info.skipped_injectors.push({ name: spec.name, reason });
        faults = faults.filter((s) => s.kind !== 'partition');
        o.log(`WARNING: ${reason}; partition injectors are SKIPPED in this run`);
        this.emit({
          at_ms: Date.now(),
          kind: 'note',
          source: 'driver',
          detail: `partition skipped: ${reason}`,
        });
      } else if (o.serverConfigs) {
        throw new CloudP2PError(
          'usage',
          'partitions need the tool to place the servers in namespaces; do not combine them with --server-config',
          ExitCode.usage,
        );
      } else {
        const ids = Array.from({ length: o.servers }, (_, i) => i + 1);
        this.netns = await NetnsNetwork.create(ids, (resources) => this.owner?.setNetns(resources));
        this.info.cloud.netns = { slot: this.netns.slot, subnet: `198.18.${this.netns.slot}.0/24` };
      }
    }
    const netns = this.netns;
    const env = { LOG_LEVEL: process.env.LOG_LEVEL ?? 'info' };
    const startOptions = netns
      ? { env, launchPrefix: (id: number) => netns.launchPrefix(id) }
      : { env };
    if (o.serverConfigs) {
      this.cluster = LocalCluster.fromConfigs(
        o.serverConfigs,
        join(o.runDir, 'servers', 'logs'),
        startOptions,
      );
    } else {
      const generate: GenerateOptions = {
        dir: join(o.runDir, 'servers'),
        size: o.servers,
        heartbeat_interval_secs: o.heartbeat_interval_secs,
        failure_timeout_secs: o.failure_timeout_secs,
        election_timeout_secs: o.election_timeout_secs,
        thread_pool_size: o.threadPoolSize,
      };
      if (failureSim)
        generate.failureSimulation = {
          interval_secs: failureSim.interval_ms / 1000,
          max_silence_secs: failureSim.max_silence_ms / 1000,
        };
      if (netns)
        generate.endpoints = (id) => ({
          host: netns.host(id),
          port: SERVER_PORT,
          httpPort: SERVER_HTTP_PORT,
        });
      this.cluster = await LocalCluster.generate(generate, startOptions);
    }
    const cluster = this.cluster;
    this.info.cloud.size = cluster.members.length;
    this.info.cloud.members = cluster.members.map((m) => ({
      id: m.id,
      address: m.address,
      http: m.httpUrl,
    }));
    if (failureSim && !o.serverConfigs)
      this.info.cloud.failure_simulation = {
        interval_ms: failureSim.interval_ms,
        max_silence_ms: failureSim.max_silence_ms,
      };
    const allIds = cluster.members.map((m) => m.id);
    if (!o.attach) {
      await cluster.startAll(failureSim && o.serverConfigs ? ['--failure-simulation'] : []);
      for (const member of cluster.members) this.owner?.addServerPid(cluster.pid(member.id));
    }
    this.saveInfo();
    const agreed = await cluster.waitForLeader(LEADER_WAIT_MS, o.attach ? allIds : undefined);
    o.log(
      `cloud of ${cluster.members.length} servers up; leader ${agreed.leader} after ${Math.round(agreed.elapsed_ms)} ms`,
    );
    this.observer = new ClusterObserver(
      {
        ids: () => (o.attach ? allIds : allIds.filter((id) => cluster.isRunning(id))),
        status: (id, timeout_ms) => cluster.status(id, timeout_ms),
      },
      {
        poll_ms: o.poll_ms,
        isolated: (id) => this.injector?.isolated(id) ?? false,
        emit: (event) => this.emit(event),
      },
    );
    this.injector = new FaultInjector(faults, {
      cluster,
      observer: this.observer,
      netns,
      emit: (event) => this.emit(event),
      onServerStarted: (id) => this.owner?.addServerPid(cluster.pid(id)),
      random: this.random,
    });
  }

  private async connectClients(): Promise<void> {
    const cluster = this.cluster as LocalCluster;
    const servers: Endpoint[] = cluster.members.map((m) => parseEndpoint(m.address, DIAL));
    this.clients = await Promise.all(
      Array.from({ length: this.options.clients }, (_, i) =>
        CloudClient.connect({
          clientId: `stress-${this.runId}-c${i + 1}`,
          servers,
          trust: cluster.clientTrust,
          taskDeadline_ms: this.options.taskDeadline_ms,
          connectTimeout_ms: CONNECT_TIMEOUT_MS,
        }),
      ),
    );
  }

  private async drive(images: readonly StressImage[]): Promise<void> {
    const o = this.options;
    this.phase = 'load';
    this.loadStarted_ms = performance.now();
    const loadStartWall = Date.now();
    this.emit({ at_ms: loadStartWall, kind: 'load_start', source: 'driver' });
    this.observer?.start();
    this.injector?.start(o.duration_ms ?? 24 * 3600 * 1000);
    let next = 0;
    const total = o.requests ?? Infinity;
    const endAt = o.duration_ms === null ? Infinity : this.loadStarted_ms + o.duration_ms;
    const verifications = new Set<Promise<void>>();
    const loop = async (client: CloudClient, index: number): Promise<void> => {
      const name = `c${index + 1}`;
      for (;;) {
        if (this.aborted || next >= total || performance.now() >= endAt) return;
        const n = next++;
        if (o.rate_per_s !== null) {
          const wait_ms = this.loadStarted_ms + (n * 1000) / o.rate_per_s - performance.now();
          if (wait_ms > 0) await sleep(wait_ms);
          if (this.aborted || performance.now() >= endAt) return;
        }
        // Keep the verifier's backlog bounded: wait for it rather than queue without limit.
        while ((this.verifier?.backlog ?? 0) >= MAX_VERIFY_BACKLOG) await sleep(5);
        const image = images[n % images.length] as StressImage;
        const { verification } = await this.one(
          client,
          name,
          `${this.runId}-${n + 1}`,
          image,
          n % images.length,
        );
        if (verification) {
          verifications.add(verification);
          void verification.finally(() => verifications.delete(verification));
        }
      }
    };
    await Promise.all(this.clients.map((client, i) => loop(client, i)));
    await Promise.all([...verifications]);
    this.loadEnded_ms = performance.now();
    this.emit({ at_ms: Date.now(), kind: 'load_end', source: 'driver' });
  }

  /**
   * Sends one request and waits for its result; returns the verification still running (it
   * writes the record), wrapped so that awaiting this does not wait for it.
   */
  private async one(
    client: CloudClient,
    clientName: string,
    taskId: string,
    image: StressImage,
    imageIndex: number,
  ): Promise<{ verification: Promise<void> | null }> {
    this.counters.started++;
    const startWall = Date.now();
    const started = performance.now();
    let busy = 0;
    let conflicts = 0;
    const base = { client: clientName, task_id: taskId, image: image.name, start_ms: startWall };
    try {
      const result = await client.encrypt(taskId, image.payload, (event) => {
        if (event.type === 'busy') busy++;
        if (event.type === 'conflictingResult') conflicts++;
      });
      const latency_ms = performance.now() - started;
      this.counters.answered++;
      this.recent.record(performance.now());
      const verifier = this.verifier as Verifier;
      const verification = verifier.verify(result.png, imageIndex).then(
        (verify_ms) =>
          this.finishRecord({
            ...base,
            end_ms: startWall + Math.round(latency_ms),
            latency_ms: round1(latency_ms),
            server: result.serverId,
            servers: result.servers,
            outcome: 'ok',
            reason: null,
            error: null,
            reassignments: result.reassignments,
            busy_retries: busy,
            failover: result.servers.length > 0 && result.servers[0] !== result.serverId,
            verify_ms: round2(verify_ms),
            conflicts,
          }),
        (err: unknown) =>
          this.finishRecord({
            ...base,
            end_ms: startWall + Math.round(latency_ms),
            latency_ms: round1(latency_ms),
            server: result.serverId,
            servers: result.servers,
            outcome: 'verify_failed',
            reason: 'verify_failed',
            error: errorMessage(err),
            reassignments: result.reassignments,
            busy_retries: busy,
            failover: result.servers.length > 0 && result.servers[0] !== result.serverId,
            verify_ms: null,
            conflicts,
          }),
      );
      return { verification };
    } catch (err) {
      const latency_ms = performance.now() - started;
      this.counters.answered++;
      this.finishRecord({
        ...base,
        end_ms: startWall + Math.round(latency_ms),
        latency_ms: round1(latency_ms),
        server: null,
        servers: [],
        outcome: 'failed',
        reason: (err as { code?: string }).code ?? 'error',
        error: errorMessage(err),
        reassignments: 0,
        busy_retries: busy,
        failover: false,
        verify_ms: null,
        conflicts,
      });
      return { verification: null };
    }
  }

  private finishRecord(record: StressRecord): void {
    this.counters.done++;
    if (record.outcome === 'ok') this.counters.ok++;
    else if (record.outcome === 'verify_failed') this.counters.verifyFailed++;
    else this.counters.failed++;
    if (record.failover || record.reassignments > 0) this.counters.failedOver++;
    this.counters.conflicts += record.conflicts;
    this.records.write(record);
  }

  /** After the load: undo faults, wait for one agreed leader, collect metrics. */
  private async finish(): Promise<void> {
    const cluster = this.cluster as LocalCluster;
    this.phase = 'healing and checking the final leader';
    await this.injector?.stop(true);
    let final: RunInfo['final'];
    try {
      const agreed = await cluster.waitForLeader(
        FINAL_LEADER_WAIT_MS,
        this.options.attach ? cluster.members.map((m) => m.id) : undefined,
      );
      final = {
        agreed_leader: agreed.leader,
        epoch: agreed.epoch,
        detail: `all running servers agree after ${Math.round(agreed.elapsed_ms)} ms`,
        servers: [],
      };
    } catch (err) {
      final = { agreed_leader: null, epoch: null, detail: errorMessage(err), servers: [] };
    }
    for (const member of cluster.members) {
      const status = await cluster.status(member.id, 2000);
      if (status)
        final.servers.push({
          id: status.id,
          role: status.role,
          leader: status.leader_id,
          epoch: status.epoch_label,
          synced: status.synced,
        });
      this.info.server_metrics[String(member.id)] = await fetchMetrics(member.httpUrl);
    }
    this.info.final = final;
    this.emit({
      at_ms: Date.now(),
      kind: 'run_end',
      source: 'driver',
      leader: final.agreed_leader,
      epoch: final.epoch,
      detail: final.detail,
    });
    await this.observer?.stop();
    const load_s = (this.loadEnded_ms - this.loadStarted_ms) / 1000;
    const c = this.counters;
    this.info.totals = {
      requests: c.started,
      ok: c.ok,
      failed: c.failed,
      verify_failed: c.verifyFailed,
      lost: c.started - c.ok,
      conflicts: c.conflicts,
      failed_over: c.failedOver,
      load_duration_s: round2(load_s),
      throughput_per_s: round2(c.ok / Math.max(0.001, load_s)),
    };
  }

  private async teardown(): Promise<void> {
    this.phase = 'stopping';
    await this.observer?.stop().catch(() => undefined);
    await this.injector?.stop(false).catch(() => undefined);
    for (const client of this.clients) client.close();
    await this.verifier?.close().catch(() => undefined);
    await this.cluster?.stopAll(10_000).catch(() => undefined);
    await this.netns?.destroy().catch(() => undefined);
    this.owner?.remove();
    await this.records.close();
    await this.events.close();
    this.info.ended_at = new Date().toISOString();
    this.info.machine.load_average_end = loadavg().map(round2);
    this.saveInfo();
  }

  /** Last resort when the process exits without teardown (uncaught error, process.exit). */
  private emergencyCleanup(): void {
    const cluster = this.cluster;
    if (cluster)
      for (const member of cluster.members) {
        const pid = cluster.pid(member.id);
        if (pid !== undefined)
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
      }
    this.netns?.destroySync();
    this.owner?.remove();
  }
}

async function fetchMetrics(httpUrl: string): Promise<Record<string, number>> {
  try {
    const response = await fetch(`${httpUrl}/metrics`, { signal: AbortSignal.timeout(2000) });
    if (!response.ok) return {};
    return parsePrometheus(await response.text());
  } catch {
    return {};
  }
}

/** Sums the samples of every cloudp2p_* metric (labels folded together). */
export function parsePrometheus(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const match = /^(cloudp2p_[a-z_]+)(?:\{[^}]*\})?\s+([-+0-9.eE]+|NaN)$/.exec(line.trim());
    if (!match || match[1]?.endsWith('_bucket')) continue;
    const value = Number(match[2]);
    if (Number.isFinite(value)) out[match[1] as string] = (out[match[1] as string] ?? 0) + value;
  }
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function round1(v: number): number {
  return Math.round(v * 10) / 10;
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}

/** A small seeded generator, so which server an injector hits can be replayed. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

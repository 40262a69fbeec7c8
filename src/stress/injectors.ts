/**
 * Failure injectors: each FaultSpec becomes timers that, while the load runs, kill -9 and
 * restart, pause (SIGSTOP/SIGCONT) or partition (netns) a server picked by its target rule.
 * Every action and its undoing is logged as an event with a timestamp. At most one fault is in
 * force per server; an injection whose target is already down is skipped (and logged), and no
 * injection ever takes down the last server that works.
 */
import type { LocalCluster } from '../server/local-cluster.js';
import { errorMessage } from '../util/errors.js';
import type { NetnsNetwork } from './netns.js';
import type { ClusterObserver } from './observer.js';
import type { StressEvent } from './run-files.js';
import type { FaultSpec, FaultTarget } from './spec.js';

export interface InjectorContext {
  cluster: LocalCluster;
  observer: ClusterObserver;
  netns: NetnsNetwork | null;
  emit(event: StressEvent): void;
  /** A server process was (re)started: remember its pid for leftover cleanup. */
  onServerStarted(id: number): void;
  random(): number;
}

/** How long a leader-targeted injection waits for a known leader before it is skipped. */
const LEADER_WAIT_MS = 10_000;

type ActiveFault = { kind: FaultSpec['kind']; undo: (() => Promise<void>) | null };

export class FaultInjector {
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Injections scheduled and not yet due: named in the log if the load ends first. */
  private readonly upcoming = new Map<NodeJS.Timeout, string>();
  private readonly active = new Map<number, ActiveFault>();
  private readonly pending = new Set<Promise<void>>();
  private stopped = false;

  constructor(
    private readonly specs: readonly FaultSpec[],
    private readonly context: InjectorContext,
  ) {}

  /** Servers an injected partition currently cuts off. */
  isolated(id: number): boolean {
    return this.active.get(id)?.kind === 'partition';
  }

  /** Schedules every injection up to `horizon_ms` after now (the load's start). */
  start(horizon_ms: number): void {
    const started_ms = Date.now();
    for (const spec of this.specs) this.scheduleNth(spec, 0, horizon_ms, started_ms);
  }

  /** One timer per fault at a time: the n-th injection schedules the next when it fires. */
  private scheduleNth(spec: FaultSpec, n: number, horizon_ms: number, started_ms: number): void {
    const at = spec.first_ms + n * (spec.every_ms ?? 0);
    if (at >= horizon_ms) return;
    if (n > 0 && (spec.every_ms === null || (spec.count !== null && n >= spec.count))) return;
    const timer = this.schedule(Math.max(0, started_ms + at - Date.now()), () => {
      this.scheduleNth(spec, n + 1, horizon_ms, started_ms);
      return this.inject(spec);
    });
    this.upcoming.set(timer, `${spec.name} due at ${at / 1000} s`);
  }

  /** Cancels what is not done yet and undoes every fault in force (resume, heal, restart). */
  async stop(restartKilled: boolean): Promise<void> {
    this.stopped = true;
    const notReached = [...this.upcoming.values()];
    if (notReached.length > 0)
      this.context.emit({
        at_ms: Date.now(),
        kind: 'note',
        source: 'injector',
        detail: `not reached, the load ended first: ${notReached.slice(0, 3).join('; ')}${notReached.length > 3 ? ', ...' : ''}`,
      });
    this.upcoming.clear();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.allSettled([...this.pending]);
    for (const [id, fault] of [...this.active]) {
      if (fault.kind === 'kill' && !restartKilled) continue;
      await this.undo(id, fault);
    }
  }

  private schedule(delay_ms: number, action: () => Promise<void>): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.upcoming.delete(timer);
      const done = action().catch((err: unknown) =>
        this.context.emit({
          at_ms: Date.now(),
          kind: 'injector_error',
          source: 'injector',
          detail: errorMessage(err),
        }),
      );
      this.pending.add(done);
      void done.finally(() => this.pending.delete(done));
    }, delay_ms);
    this.timers.add(timer);
    return timer;
  }

  private pickTarget(target: FaultTarget): number | string {
    const { cluster, observer } = this.context;
    const usable = cluster.members
      .map((m) => m.id)
      .filter((id) => cluster.isRunning(id) && !this.active.has(id) && !observer.isSilent(id));
    if (usable.length <= 1) return 'it would leave no working server';
    const leader = observer.leader();
    let candidates: number[];
    if (target === 'leader') {
      if (leader === null) return 'no leader is known right now';
      candidates = [leader];
    } else if (target === 'follower') candidates = usable.filter((id) => id !== leader);
    else if (target === 'random') candidates = usable;
    else candidates = [target];
    candidates = candidates.filter((id) => usable.includes(id));
    if (candidates.length === 0) return `target ${target} is already down or not running`;
    return candidates[Math.floor(this.context.random() * candidates.length)] as number;
  }

  private async inject(spec: FaultSpec): Promise<void> {
    if (this.stopped) return;
    let picked = this.pickTarget(spec.target);
    // No leader known at this instant (an election, or /status answers late on a busy machine):
    // wait a little for one rather than skip the injection.
    const waitUntil = Date.now() + LEADER_WAIT_MS;
    while (
      typeof picked === 'string' &&
      spec.target === 'leader' &&
      !this.stopped &&
      Date.now() < waitUntil
    ) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      picked = this.pickTarget(spec.target);
    }
    if (this.stopped) return;
    if (typeof picked === 'string') {
      this.context.emit({
        at_ms: Date.now(),
        kind: 'note',
        source: spec.name,
        detail: `skipped: ${picked}`,
      });
      return;
    }
    const id = picked;
    const { cluster, observer, emit } = this.context;
    const at_ms = Date.now();
    const was_leader = observer.noteFault(id, at_ms);
    switch (spec.kind) {
      case 'kill': {
        this.active.set(id, { kind: 'kill', undo: null });
        await cluster.kill(id);
        emit({ at_ms, kind: 'kill', server: id, source: spec.name, was_leader, detail: 'SIGKILL' });
        const fault: ActiveFault = {
          kind: 'kill',
          undo: async () => {
            cluster.start(id);
            this.context.onServerStarted(id);
            emit({ at_ms: Date.now(), kind: 'restart', server: id, source: spec.name });
          },
        };
        this.active.set(id, fault);
        if (spec.duration_ms !== null) this.after(spec.duration_ms, id, fault);
        return;
      }
      case 'pause': {
        cluster.signal(id, 'SIGSTOP');
        emit({
          at_ms,
          kind: 'pause',
          server: id,
          source: spec.name,
          was_leader,
          detail: 'SIGSTOP',
        });
        const fault: ActiveFault = {
          kind: 'pause',
          undo: async () => {
            if (cluster.isRunning(id)) cluster.signal(id, 'SIGCONT');
            emit({
              at_ms: Date.now(),
              kind: 'resume',
              server: id,
              source: spec.name,
              detail: 'SIGCONT',
            });
          },
        };
        this.active.set(id, fault);
        this.after(spec.duration_ms ?? 0, id, fault);
        return;
      }
      case 'partition': {
        const netns = this.context.netns;
        if (!netns) throw new Error(`${spec.name}: servers are not in network namespaces`);
        await netns.partition(id, spec.scope);
        this.active.set(id, {
          kind: 'partition',
          undo: async () => {
            await netns.heal(id);
            emit({ at_ms: Date.now(), kind: 'heal', server: id, source: spec.name });
          },
        });
        emit({
          at_ms,
          kind: 'partition',
          server: id,
          source: spec.name,
          was_leader,
          detail:
            spec.scope === 'all'
              ? 'iptables DROP of all traffic to and from it'
              : 'iptables DROP between it and the other servers (clients still reach it)',
        });
        const fault = this.active.get(id) as ActiveFault;
        this.after(spec.duration_ms ?? 0, id, fault);
        return;
      }
    }
  }

  /** Undoes `fault` on `id` after `delay_ms` (timers survive stop() only through stop's undo). */
  private after(delay_ms: number, id: number, fault: ActiveFault): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      const done = this.undo(id, fault).catch((err: unknown) =>
        this.context.emit({
          at_ms: Date.now(),
          kind: 'injector_error',
          source: 'injector',
          server: id,
          detail: errorMessage(err),
        }),
      );
      this.pending.add(done);
      void done.finally(() => this.pending.delete(done));
    }, delay_ms);
    this.timers.add(timer);
  }

  private async undo(id: number, fault: ActiveFault): Promise<void> {
    if (this.active.get(id) !== fault) return;
    this.active.delete(id);
    await fault.undo?.();
  }
}

/**
 * The simulated clients: one core `ClientSession` each, fed the messages the network delivers
 * and its own timers, with what it sends handed back to the simulation's network. Results are
 * checked here as they are delivered (right digest, delivered once, no conflicting result).
 */
import { ClientSession, type ClientEvent } from '../core/client-session.js';
import type { Source } from '../core/events.js';
import type { Message } from '../core/messages.js';
import type { SeededRandom } from '../core/random.js';
import type { InvariantChecker } from './invariants.js';
import type { SimClient, SimConfig, SimEvent, TraceKind } from './model.js';
import { typeCode } from './fingerprint.js';
import { describe, describeClientEvent } from './trace-text.js';
import { expectedDigest } from './workers.js';

/** What the clients need from the simulation around them. */
export interface ClientWorld {
  readonly config: SimConfig;
  readonly checker: InvariantChecker;
  now(): number;
  /** Puts an event on the simulation's queue at virtual time `time_ms`. */
  schedule(time_ms: number, event: SimEvent): void;
  /** Sends a message through the simulated network. */
  route(from: Source, to: Source, message: Message, binary: Uint8Array | null): void;
  /** Mixes values into the run's fingerprint. */
  hash(...values: number[]): void;
  log(kind: TraceKind, text: string): void;
}

export class SimClients {
  /** Index = the client's number - 1 (client `c1` is at 0). */
  readonly all: SimClient[] = [];
  private taskCounter = 0;

  /** Creates `count` clients, each with its own fork of `random` (drawn in order). */
  constructor(
    private readonly world: ClientWorld,
    count: number,
    random: SeededRandom,
  ) {
    for (let c = 0; c < count; c++) this.all.push(this.newClient(c, random));
  }

  private newClient(index: number, random: SeededRandom): SimClient {
    const { config } = this.world;
    const id = `c${index + 1}`;
    const session = new ClientSession(
      {
        task_deadline_ms: 3_600_000,
        ...config.client,
        client_id: id,
        servers: Array.from({ length: config.nodes }, (_, i) => i + 1),
      },
      random.fork(),
      this.world.now(),
    );
    return {
      id,
      session,
      timerAt: Infinity,
      timerToken: 0,
      submitted: new Map(),
      delivered: new Map(),
      failed: new Map(),
    };
  }

  /** The index of the client named `id`, or -1. */
  indexOf(id: string): number {
    return this.all.findIndex((c) => c.id === id);
  }

  /** Submits one task from client `index` now; returns its id. */
  submit(index: number, taskId?: string): string {
    const c = this.all[index];
    if (c === undefined) throw new Error(`no client ${index}`);
    const id = taskId ?? `t${++this.taskCounter}`;
    const now = this.world.now();
    c.submitted.set(id, now);
    c.session.submit(id, 1000, now);
    this.afterInput(index);
    return id;
  }

  deliver(index: number, from: number, message: Message, binary: Uint8Array | null): void {
    const { world } = this;
    const c = this.all[index];
    if (c === undefined) return;
    const now = world.now();
    world.hash(2, now, index, typeCode(message.type));
    if (world.config.trace) world.log('deliver', `s${from} -> ${c.id} ${describe(message)}`);
    if (message.type === 'TaskResponse' && message.ok) {
      // The runtime glue must attach the result bytes to every successful TaskResponse.
      const got = binary?.length ?? 0;
      if (got !== message.result_size_bytes)
        world.checker.fail(
          now,
          'result-bytes',
          `${c.id}/${message.task_id} from s${from}: ${got} bytes, ${message.result_size_bytes} announced`,
        );
    }
    c.session.receive(from, message, now);
    this.afterInput(index);
  }

  onTimer(index: number, token: number): void {
    const c = this.all[index];
    if (c === undefined || token !== c.timerToken) return;
    c.timerAt = Infinity;
    c.session.tick(this.world.now());
    this.afterInput(index);
  }

  /** Tasks submitted but not delivered. */
  pending(): string[] {
    const out: string[] = [];
    for (const c of this.all) {
      for (const t of c.submitted.keys()) if (!c.delivered.has(t)) out.push(`${c.id}/${t}`);
    }
    return out;
  }

  private afterInput(index: number): void {
    const c = this.all[index];
    if (c === undefined) return;
    const ready = c.session.drain();
    for (const out of ready.messages) {
      // A real client attaches the task's payload to every TaskRequest.
      const payload =
        out.message.type === 'TaskRequest' ? new Uint8Array(out.message.size_bytes) : null;
      this.world.route(
        { kind: 'client', id: c.id },
        { kind: 'server', id: out.to },
        out.message,
        payload,
      );
    }
    for (const e of ready.events) this.onEvent(c, e);
    const next = c.session.nextDeadline_ms();
    if (next !== null && next < c.timerAt) {
      c.timerAt = next;
      c.timerToken++;
      this.world.schedule(next, { kind: 'clientTimer', client: index, token: c.timerToken });
    }
  }

  private onEvent(c: SimClient, e: ClientEvent): void {
    const { world } = this;
    const now = world.now();
    switch (e.type) {
      case 'delivered':
        c.delivered.set(e.task_id, { at: now, latency: e.latency_ms, server: e.server_id });
        world.checker.onDelivered(
          now,
          c.id,
          e.task_id,
          e.result_digest,
          expectedDigest(c.id, e.task_id),
        );
        break;
      case 'failed':
        c.failed.set(e.task_id, e.reason);
        world.checker.fail(now, 'task-failed', `${c.id}/${e.task_id}: ${e.reason}`);
        break;
      case 'conflictingResult':
        world.checker.onConflictingResult(
          now,
          c.id,
          e.task_id,
          `${e.delivered} vs ${e.other} from s${e.server_id}`,
        );
        break;
      default:
        break;
    }
    if (
      world.config.trace &&
      (e.type === 'delivered' || e.type === 'failed' || e.type === 'reassigned')
    ) {
      world.log('client', `${c.id} ${describeClientEvent(e)}`);
    }
  }
}

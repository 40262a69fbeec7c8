/**
 * The NodeDriver: the one piece of glue between a ServerNode and its world, run by the
 * production runtime and by the simulator. Driven here by real ServerNodes over an in-memory
 * network and a hand-operated task runner, with every port call recorded in order.
 */
import { describe, expect, it } from 'vitest';
import type { ServerNodeConfigInput } from '../../../src/core/config.js';
import { NodeDriver } from '../../../src/core/driver/node-driver.js';
import type { TaskResult } from '../../../src/core/driver/ports.js';
import type { Destination, Source } from '../../../src/core/events.js';
import type { Message, TaskRequestMessage } from '../../../src/core/messages.js';
import { SeededRandom } from '../../../src/core/random.js';
import { ServerNode } from '../../../src/core/server-node.js';

interface Job {
  task: string;
  payload: Uint8Array;
  on: { started(): void; finished(result: TaskResult): void };
  cancelled: boolean;
  running: boolean;
}

interface Sent {
  to: Destination;
  message: Message;
  binary: Uint8Array | null;
  written: () => void;
}

/** Real nodes, an in-memory network, a hand-operated runner, and a log of every port call. */
class Rig {
  now = 0;
  readonly drivers = new Map<number, NodeDriver>();
  readonly log = new Map<number, string[]>();
  readonly jobs: Job[] = [];
  readonly toClients: Sent[] = [];
  readonly recycled: Uint8Array[] = [];
  readonly problems: string[] = [];
  private network: Array<{ from: Source; to: number; message: Message }> = [];

  constructor(ids: number[], extra: Omit<ServerNodeConfigInput, 'id' | 'peers'> = {}) {
    for (const id of ids) {
      const node = new ServerNode(
        { ...extra, id, peers: ids.filter((p) => p !== id) },
        new SeededRandom(id),
        0,
      );
      const log: string[] = [];
      this.log.set(id, log);
      const driver = new NodeDriver(node, {
        now: () => this.now,
        persist: (state) => log.push(`persist ${state.epoch}`),
        send: (to, message, binary, written) => {
          log.push(`send ${message.type} to ${to.kind === 'server' ? to.id : to.id}`);
          if (to.kind === 'server') {
            this.network.push({ from: { kind: 'server', id }, to: to.id, message });
            written();
          } else this.toClients.push({ to, message, binary, written });
        },
        runner: {
          run: (task, payload, on) => {
            const job: Job = { task: task.task_id, payload, on, cancelled: false, running: false };
            this.jobs.push(job);
            return {
              cancel: () => {
                if (job.running) return false;
                job.cancelled = true;
                return true;
              },
            };
          },
          recycle: (bytes) => this.recycled.push(bytes),
        },
        silence: (until) => log.push(until === null ? 'silence off' : 'silence on'),
        settled: () => log.push('settled'),
        observer: {
          event: (e) => log.push(`event ${e.type}`),
          problem: (text) => this.problems.push(text),
        },
      });
      node.setLocalLoad({ cpu_pct: id * 10, memory_used_pct: 20 }, 0);
      this.drivers.set(id, driver);
      driver.flush();
    }
  }

  driver(id: number): NodeDriver {
    const d = this.drivers.get(id);
    if (d === undefined) throw new Error(`no driver ${id}`);
    return d;
  }

  /** Advances time in 10 ms steps, ticking due nodes and delivering every server message. */
  run(ms: number): void {
    const end = this.now + ms;
    while (this.now < end) {
      this.now += 10;
      for (const d of this.drivers.values()) if (d.node.nextDeadline_ms() <= this.now) d.tick();
      while (this.network.length > 0) {
        const batch = this.network;
        this.network = [];
        for (const m of batch) this.drivers.get(m.to)?.receive(m.from, m.message);
      }
    }
  }

  leader(): number {
    for (const [id, d] of this.drivers) if (d.node.currentRole === 'leader') return id;
    throw new Error('no leader');
  }

  fromClient(to: number, message: Message, payload?: Uint8Array): Sent[] {
    const before = this.toClients.length;
    const client = 'client_id' in message ? message.client_id : 'c1';
    this.driver(to).receive({ kind: 'client', id: client }, message, payload);
    return this.toClients.slice(before);
  }
}

function request(server: number, epoch: number, task = 't1', size = 4): TaskRequestMessage {
  return {
    type: 'TaskRequest',
    client_id: 'c1',
    task_id: task,
    size_bytes: size,
    assignment: { server_id: server, epoch, attempt: 1 },
  };
}

describe('NodeDriver', () => {
  it('persists the hard state before it sends anything of the same batch', () => {
    const rig = new Rig([1, 2, 3]);
    rig.run(3000);
    const leader = rig.leader();
    const log = rig.log.get(leader) ?? [];
    const persisted = log.findIndex((l) => l.startsWith('persist'));
    expect(persisted).toBeGreaterThanOrEqual(0);
    // The Coordinator announcing the new epoch comes after the epoch is on disk.
    const coordinator = log.findIndex((l) => l.startsWith('send Coordinator'));
    expect(coordinator).toBeGreaterThan(persisted);
  });

  it("runs a TaskRequest's own payload and attaches the result bytes to every TaskResponse", () => {
    const rig = new Rig([1, 2, 3]);
    rig.run(3000);
    const leader = rig.leader();
    const epoch = rig.driver(leader).node.epoch;
    const payload = new Uint8Array([1, 2, 3, 4]);
    const accepted = rig.fromClient(leader, request(leader, epoch), payload);
    expect(accepted.map((s) => s.message.type)).toEqual(['TaskAccepted']);
    expect(rig.jobs).toHaveLength(1);
    expect(rig.jobs[0]?.payload).toBe(payload);

    const job = rig.jobs[0] as Job;
    job.running = true;
    job.on.started();
    const png = new Uint8Array([9, 9, 9]);
    const before = rig.toClients.length;
    job.on.finished({ ok: true, bytes: png, digest: 'd' });
    const result = rig.toClients.slice(before);
    expect(result.map((s) => [s.message.type, s.binary])).toEqual([['TaskResponse', png]]);
    expect(result[0]?.message).toMatchObject({ ok: true, result_size_bytes: 3 });
    expect(rig.driver(leader).resultsHeld).toBe(1);

    // A duplicate request gets the same bytes from the cache; nothing runs twice.
    const dup = rig.fromClient(leader, request(leader, epoch), new Uint8Array(4));
    expect(dup.map((s) => s.binary)).toEqual([png]);
    expect(rig.jobs).toHaveLength(1);

    // The ack releases the result; its buffer is reused only when no write still reads it.
    rig.fromClient(leader, { type: 'TaskAck', client_id: 'c1', task_id: 't1' });
    expect(rig.driver(leader).resultsHeld).toBe(0);
    expect(rig.recycled).toEqual([]);
    result[0]?.written();
    expect(rig.recycled).toEqual([]);
    dup[0]?.written();
    expect(rig.recycled).toEqual([png]);
    expect(rig.problems).toEqual([]);
  });

  it('answers with an error, and says so, when a task comes without its payload', () => {
    const rig = new Rig([1, 2, 3]);
    rig.run(3000);
    const leader = rig.leader();
    const out = rig.fromClient(leader, request(leader, rig.driver(leader).node.epoch));
    expect(rig.problems).toEqual(['executeTask without payload bytes']);
    expect(rig.jobs).toEqual([]);
    expect(out.map((s) => s.message)).toContainEqual(
      expect.objectContaining({
        type: 'TaskResponse',
        ok: false,
        error: 'internal error: payload missing',
      }),
    );
  });

  it('cancels a task no worker took yet, and discards the result of one that was running', () => {
    const rig = new Rig([1, 2, 3]);
    rig.run(3000);
    const leader = rig.leader();
    const epoch = rig.driver(leader).node.epoch;
    rig.fromClient(leader, request(leader, epoch, 'waiting'), new Uint8Array(4));
    rig.fromClient(leader, request(leader, epoch, 'busy'), new Uint8Array(4));
    const [waiting, busy] = rig.jobs as [Job, Job];
    busy.running = true;
    expect(rig.driver(leader).tasksInRunner).toBe(2);

    // Both clients got their results from elsewhere and acknowledge.
    rig.fromClient(leader, { type: 'TaskAck', client_id: 'c1', task_id: 'waiting' });
    rig.fromClient(leader, { type: 'TaskAck', client_id: 'c1', task_id: 'busy' });
    expect(waiting.cancelled).toBe(true);
    expect(busy.cancelled).toBe(false);
    expect(rig.driver(leader).tasksInRunner).toBe(1);

    const late = new Uint8Array([7]);
    busy.on.finished({ ok: true, bytes: late, digest: 'x' });
    expect(rig.driver(leader).tasksInRunner).toBe(0);
    expect(rig.driver(leader).resultsHeld).toBe(0);
    expect(rig.recycled).toEqual([late]);
  });

  it('tells the peers about a failure simulation before it goes silent itself', () => {
    const rig = new Rig([1, 2, 3], {
      failure_simulation: {
        enabled: true,
        interval_ms: 4000,
        min_silence_ms: 500,
        max_silence_ms: 500,
      },
    });
    // Until the leader picks itself (the pick is random; the seeds make it deterministic).
    let told: string[] | null = null;
    for (let t = 0; t < 300_000 && told === null; t += 500) {
      rig.run(500);
      for (const log of rig.log.values()) {
        const i = log.indexOf('silence on');
        if (i >= 2 && log[i - 1]?.startsWith('send FailureSimulation'))
          told = log.slice(i - 2, i + 1);
        log.length = 0;
      }
    }
    expect(told).toEqual([
      expect.stringMatching(/^send FailureSimulation to [123]$/),
      expect.stringMatching(/^send FailureSimulation to [123]$/),
      'silence on',
    ]);
  });
});

/**
 * A tiny hand-driven network for unit tests: messages wait in a list until the test
 * delivers them, so each test controls exactly who hears what and when.
 */
import type { ServerNodeConfigInput } from '../../../src/core/config.js';
import type { Command } from '../../../src/core/commands.js';
import type { Destination, NodeEvent, Source } from '../../../src/core/events.js';
import type { Message } from '../../../src/core/messages.js';
import { SeededRandom } from '../../../src/core/random.js';
import { ServerNode } from '../../../src/core/server-node.js';

export interface Envelope {
  from: Source;
  to: Destination;
  message: Message;
}

export class Net {
  readonly nodes = new Map<number, ServerNode>();
  readonly events = new Map<number, NodeEvent[]>();
  /** Commands other than sends, per node (executeTask, releaseResult, silence, ...). */
  readonly commands = new Map<number, Command[]>();
  /** Messages sent and not yet delivered, in send order. */
  pending: Envelope[] = [];
  /** Messages addressed to clients (never delivered; tests inspect them). */
  toClients: Envelope[] = [];
  now = 0;
  /** Directed links that drop messages: "1>2". */
  readonly cut = new Set<string>();

  constructor(ids: number[], extra: Omit<ServerNodeConfigInput, 'id' | 'peers'> = {}) {
    for (const id of ids) {
      const node = new ServerNode(
        { ...extra, id, peers: ids.filter((p) => p !== id) },
        new SeededRandom(id),
        0,
      );
      node.setLocalLoad({ cpu_pct: id * 10, memory_used_pct: 20 }, 0);
      this.nodes.set(id, node);
      this.events.set(id, []);
      this.commands.set(id, []);
      this.collect(id);
    }
  }

  node(id: number): ServerNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  collect(id: number): void {
    this.node(id).checkDeepInvariants();
    const ready = this.node(id).drain();
    this.events.get(id)?.push(...ready.events);
    for (const out of ready.commands) {
      if (out.type !== 'send') {
        this.commands.get(id)?.push(out);
        continue;
      }
      const env = { from: { kind: 'server', id } as Source, to: out.to, message: out.message };
      if (out.to.kind === 'client') this.toClients.push(env);
      else if (!this.cut.has(`${id}>${out.to.id}`)) this.pending.push(env);
    }
  }

  /** Delivers pending messages (matching `filter`) until none are left, at most `limit`. */
  deliver(filter: (e: Envelope) => boolean = () => true, limit = 10_000): number {
    let delivered = 0;
    while (delivered < limit) {
      const i = this.pending.findIndex(filter);
      if (i < 0) break;
      const [env] = this.pending.splice(i, 1);
      if (env === undefined || env.to.kind !== 'server') continue;
      const target = this.nodes.get(env.to.id);
      if (target === undefined) continue;
      target.receive(env.from, env.message, this.now);
      this.collect(env.to.id);
      delivered++;
    }
    return delivered;
  }

  /** Advances time in 10 ms steps, ticking every node when due and delivering everything. */
  run(ms: number, alive: (id: number) => boolean = () => true): void {
    const end = this.now + ms;
    while (this.now < end) {
      this.now += 10;
      for (const [id, node] of this.nodes) {
        if (!alive(id)) continue;
        if (node.nextDeadline_ms() <= this.now) {
          node.tick(this.now);
          this.collect(id);
        }
      }
      this.pending = this.pending.filter((e) => e.to.kind !== 'server' || alive(e.to.id));
      this.deliver((e) => e.to.kind === 'server' && alive(e.to.id));
    }
  }

  eventsOf(id: number, type: NodeEvent['type']): NodeEvent[] {
    return (this.events.get(id) ?? []).filter((e) => e.type === type);
  }

  commandsOf(id: number, type: Command['type']): Command[] {
    return (this.commands.get(id) ?? []).filter((c) => c.type === type);
  }

  /** Sends a client message to a server and returns what the server sent back to clients. */
  fromClient(to: number, client: string, message: Message): Envelope[] {
    const before = this.toClients.length;
    this.node(to).receive({ kind: 'client', id: client }, message, this.now);
    this.collect(to);
    return this.toClients.slice(before);
  }
}

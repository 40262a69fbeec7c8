/**
 * The simulator's records: its configuration, what it keeps per server and per client, the
 * events on its queue, and trace lines.
 */
import type { ClientSession } from '../core/client-session.js';
import type { ClientSessionConfigInput, ServerNodeConfigInput } from '../core/config.js';
import type { NodeDriver } from '../core/driver/node-driver.js';
import type { HardState } from '../core/epoch.js';
import type { Source } from '../core/events.js';
import type { Message } from '../core/messages.js';
import type { ServerNode } from '../core/server-node.js';
import type { SimWorkers } from './workers.js';

export interface SimConfig {
  seed: number;
  nodes: number;
  clients: number;
  /** Server settings shared by all nodes (id and peers are filled in). */
  server: Omit<ServerNodeConfigInput, 'id' | 'peers'>;
  /** Client settings shared by all clients. */
  client: Omit<Partial<ClientSessionConfigInput>, 'client_id' | 'servers'>;
  /** Simulated task run time range. */
  exec_min_ms: number;
  exec_max_ms: number;
  /** JSON round-trip every message (proves they are plain data, as on the wire). */
  serialize: boolean;
  /** Keep a human-readable trace of every step. */
  trace: boolean;
  /** Fixed load per server (index = id - 1) instead of a random walk. */
  fixed_loads?: readonly { cpu_pct: number; memory_used_pct: number }[];
}

export type ServerStatus = 'up' | 'crashed' | 'paused';

export interface SimServer {
  id: number;
  status: ServerStatus;
  node: ServerNode | null;
  /** Carries out the node's commands (the production runtime's glue). */
  driver: NodeDriver | null;
  incarnation: number;
  hard: HardState | undefined;
  timerAt: number;
  timerToken: number;
  workers: SimWorkers;
  deferred: (() => void)[];
  baseCpu: number;
  baseMem: number;
}

export interface SimClient {
  id: string;
  session: ClientSession;
  timerAt: number;
  timerToken: number;
  /** task id -> submit time */
  submitted: Map<string, number>;
  delivered: Map<string, { at: number; latency: number; server: number }>;
  failed: Map<string, string>;
}

export type SimEvent =
  | { kind: 'deliver'; to: number; from: Source; message: Message; binary: Uint8Array | null }
  | {
      kind: 'deliverClient';
      client: number;
      from: number;
      message: Message;
      binary: Uint8Array | null;
    }
  | { kind: 'serverTimer'; id: number; token: number }
  | { kind: 'clientTimer'; client: number; token: number }
  | { kind: 'taskStart'; id: number; incarnation: number; key: string }
  | { kind: 'taskDone'; id: number; incarnation: number; key: string }
  | { kind: 'load'; id: number }
  | { kind: 'call'; fn: () => void };

export type FaultKind = 'crash' | 'restart' | 'pause' | 'resume' | 'partition' | 'heal';

/** What a trace line is about, for filtering. */
export type TraceKind = 'fault' | 'event' | 'send' | 'deliver' | 'client';

export interface TraceLine {
  time_ms: number;
  kind: TraceKind;
  text: string;
}

/**
 * Connections to MySQL/MariaDB over one server or the nodes of a MariaDB Galera cluster, as the
 * pool Kysely's MysqlDialect draws from.
 *
 * Nodes are used in the URL's order: the first (the server's local node) while it serves, the
 * next ones when it does not. A node is skipped when it refuses connections, when it answers
 * error 1047 (it lost the primary component, or is still joining), when it is not Synced, or when
 * it belongs to another cluster; a skipped node is probed in the background and used again once it
 * serves. Every new connection gets the session settings the store relies on; on Galera also
 * `wsrep_sync_wait = 1`, so a read through one node sees what was committed through another.
 *
 * Why not mysql2's PoolCluster: it reacts only to failures to connect. A Galera node that lost the
 * primary component accepts connections and fails every query with 1047, and a node of another
 * cluster accepts them too; both must be skipped, which needs the checks here.
 */
import { createPool, type Pool, type PoolConnection } from 'mysql2';
import type { MysqlPool, MysqlPoolConnection } from 'kysely';
import {
  PC_BOOTSTRAP_SQL,
  readWsrepState,
  servingProblem,
  type QueryRunner,
  type WsrepState,
} from './galera/status.js';
import { describeError } from './errors.js';
import type { MysqlNode } from './url.js';

export interface MysqlNodesSettings {
  connect_timeout_ms: number;
  operation_timeout_ms: number;
  pool_size: number;
  on_warning: (message: string) => void;
}

/** First probe of a skipped node after this long; doubles up to PROBE_MAX_MS. */
const PROBE_FIRST_MS = 500;
const PROBE_MAX_MS = 10_000;
/** With several nodes, a node that does not answer a TCP connect this fast is skipped. */
const MULTI_NODE_CONNECT_TIMEOUT_MS = 5000;

/** What we learnt about a node of the URL. */
export interface NodeReport {
  label: string;
  /** Undefined while the node serves. */
  problem: string | undefined;
  /** What kind of problem: a configuration error (foreign_cluster, not_galera) or an outage. */
  kind: ProblemKind | undefined;
  /** The last wsrep state read from it (undefined: never reached, or not Galera). */
  state: WsrepState | undefined;
}

export type ProblemKind = 'unreachable' | 'not_serving' | 'foreign_cluster' | 'not_galera';

interface NodeEntry {
  node: MysqlNode;
  pool: Pool;
  /** Why the node is skipped; undefined while it serves. */
  problem: string | undefined;
  kind: ProblemKind | undefined;
  /** Bumped when the node is skipped: connections checked before are checked again. */
  epoch: number;
  state: WsrepState | undefined;
  probe: NodeJS.Timeout | undefined;
  probe_delay_ms: number;
  /** A node that can never be right (another cluster, not Galera): never used. */
  excluded: boolean;
}

/**
 * Counts nodes going out of use across the pools of one store (reads and writes each have one):
 * a node both pools skip is one skip, counted when the first pool skips it.
 */
export class NodeSkipTally {
  skips = 0;
  private readonly skippedBy = new Map<string, number>();

  skipped(label: string): void {
    const pools = this.skippedBy.get(label) ?? 0;
    if (pools === 0) this.skips++;
    this.skippedBy.set(label, pools + 1);
  }

  restored(label: string): void {
    this.skippedBy.set(label, Math.max(0, (this.skippedBy.get(label) ?? 0) - 1));
  }
}

/** No node of the URL can take the call; the message lists each node and why. */
export class NoServingNodeError extends Error {
  readonly code = 'DIRECTORY_NO_NODE';
  constructor(
    message: string,
    readonly reports: readonly NodeReport[],
  ) {
    super(message);
  }
}

export class MysqlNodes implements MysqlPool {
  private readonly entries: NodeEntry[];
  private readonly checked = new WeakMap<PoolConnection, number>();
  private readonly prepared = new WeakSet<PoolConnection>();
  /** The Galera cluster the first serving node belongs to: every node must match it. */
  private identity: { name: string; uuid: string; label: string } | undefined;
  private ended = false;

  constructor(
    nodes: readonly MysqlNode[],
    private readonly settings: MysqlNodesSettings,
    /** Shared by the pools of one store (stats()). */
    readonly tally: NodeSkipTally = new NodeSkipTally(),
  ) {
    const connectTimeout =
      nodes.length > 1
        ? Math.min(settings.connect_timeout_ms, MULTI_NODE_CONNECT_TIMEOUT_MS)
        : settings.connect_timeout_ms;
    this.entries = nodes.map((node) => ({
      node,
      pool: createNodePool(node, settings, connectTimeout),
      problem: undefined,
      kind: undefined,
      epoch: 0,
      state: undefined,
      probe: undefined,
      probe_delay_ms: PROBE_FIRST_MS,
      excluded: false,
    }));
  }

  get multiNode(): boolean {
    return this.entries.length > 1;
  }

  /** Whether the nodes are Galera nodes (known after the first connection). */
  get galera(): boolean {
    return this.entries.some((entry) => entry.state?.on === true);
  }

  getConnection(callback: (error: unknown, connection: MysqlPoolConnection) => void): void {
    this.acquire().then(
      (connection) => callback(null, connection),
      (err: unknown) => callback(err, undefined as unknown as MysqlPoolConnection),
    );
  }

  end(callback: (error: unknown) => void): void {
    this.ended = true;
    for (const entry of this.entries) clearTimeout(entry.probe);
    Promise.all(
      this.entries.map((entry) => new Promise<void>((resolve) => entry.pool.end(() => resolve()))),
    ).then(
      () => callback(null),
      (err: unknown) => callback(err),
    );
  }

  /**
   * Connects to every node now and reports each one (at open: a node of another cluster, or a
   * plain server in a multi-node URL, is a configuration error to report before serving).
   */
  async survey(): Promise<NodeReport[]> {
    await Promise.all(
      this.entries.map(async (entry) => {
        try {
          const raw = await poolConnection(entry.pool);
          await this.check(entry, raw).finally(() => raw.release());
        } catch (err) {
          this.skip(entry, unreachable(err));
        }
      }),
    );
    return this.reports();
  }

  reports(): NodeReport[] {
    return this.entries.map((entry) => ({
      label: entry.node.label,
      problem: entry.problem,
      kind: entry.kind,
      state: entry.state,
    }));
  }

  private async acquire(): Promise<MysqlPoolConnection> {
    if (this.ended)
      throw Object.assign(new Error('the directory pool is closed'), { code: 'POOL_CLOSED' });
    const usable = this.entries.filter((entry) => !entry.excluded);
    // Serving nodes in the URL's order; when none serves, try the skipped ones too.
    const order = [
      ...usable.filter((entry) => entry.problem === undefined),
      ...usable.filter((entry) => entry.problem !== undefined),
    ];
    for (const entry of order) {
      let raw: PoolConnection;
      try {
        raw = await poolConnection(entry.pool);
      } catch (err) {
        this.skip(entry, unreachable(err));
        continue;
      }
      try {
        if (this.checked.get(raw) !== entry.epoch && !(await this.check(entry, raw))) {
          raw.destroy();
          continue;
        }
      } catch (err) {
        raw.destroy();
        this.skip(entry, unreachable(err));
        continue;
      }
      if (entry.problem !== undefined) this.restore(entry);
      return this.wrap(entry, raw);
    }
    throw this.noServingNode();
  }

  /** Session settings (once per connection) and the node's state; false when it must be skipped. */
  private async check(entry: NodeEntry, raw: PoolConnection): Promise<boolean> {
    const runner: QueryRunner = { query: (sql) => rawQuery(raw, sql) };
    if (!this.prepared.has(raw)) {
      for (const statement of sessionSettings(this.settings)) await runner.query(statement);
    }
    const state = await readWsrepState(runner);
    entry.state = state;
    const problem = this.problemWith(entry, state);
    if (problem !== undefined) {
      this.skip(entry, ...problem);
      return false;
    }
    if (state.on && !this.prepared.has(raw)) {
      // Causality checks for reads and for BEGIN: a read through this node waits until the node
      // has applied everything committed anywhere in the cluster before the read started.
      await runner.query('set session wsrep_sync_wait = 1');
    }
    this.prepared.add(raw);
    this.checked.set(raw, entry.epoch);
    return true;
  }

  private problemWith(entry: NodeEntry, state: WsrepState): [string, ProblemKind] | undefined {
    if (!state.on) {
      if (!this.multiNode) return undefined;
      entry.excluded = true;
      return [
        'it is not a Galera node (wsrep_on=OFF): a directory URL with several nodes must name the nodes of one MariaDB Galera cluster',
        'not_galera',
      ];
    }
    const serving = servingProblem(state);
    if (serving !== undefined) return [serving, 'not_serving'];
    if (this.identity === undefined) {
      this.identity = {
        name: state.cluster_name,
        uuid: state.cluster_state_uuid,
        label: entry.node.label,
      };
      return undefined;
    }
    if (
      this.identity.name !== state.cluster_name ||
      this.identity.uuid !== state.cluster_state_uuid
    ) {
      entry.excluded = true;
      return [
        `it belongs to another Galera cluster (wsrep_cluster_name=${state.cluster_name}, state UUID ${state.cluster_state_uuid}) than ${this.identity.label} (wsrep_cluster_name=${this.identity.name}, state UUID ${this.identity.uuid}); every node in the directory URL must be a node of the same cluster`,
        'foreign_cluster',
      ];
    }
    return undefined;
  }

  /** Wraps a connection so that errors that disqualify its node are noticed. */
  private wrap(entry: NodeEntry, raw: PoolConnection): MysqlPoolConnection {
    const epoch = entry.epoch;
    const query = (sql: string, parameters: unknown[], callback?: QueryCallback): unknown => {
      if (!callback) return raw.query(sql, parameters);
      raw.query(sql, parameters, (err, result) => {
        if (err) this.noteError(entry, err);
        callback(err, result as never);
      });
      return undefined;
    };
    return {
      query: query as MysqlPoolConnection['query'],
      release: () => {
        // A connection to a node that was skipped meanwhile is not given out again.
        if (entry.epoch !== epoch) raw.destroy();
        else raw.release();
      },
    };
  }

  private noteError(entry: NodeEntry, err: unknown): void {
    const { errno, fatal, message } = err as {
      errno?: unknown;
      fatal?: unknown;
      message?: unknown;
    };
    if (errno === ER_WSREP_NOT_READY) {
      this.skip(
        entry,
        `it answers error 1047 (${String(message)}): it is not in the primary component or not synced`,
      );
    } else if (fatal === true) {
      this.skip(entry, unreachable(err));
    }
  }

  private skip(entry: NodeEntry, problem: string, kind: ProblemKind = 'unreachable'): void {
    const first = entry.problem === undefined;
    entry.problem = problem;
    entry.kind = kind;
    if (!first) return;
    entry.epoch++;
    this.tally.skipped(entry.node.label);
    if (this.multiNode || entry.excluded) {
      this.settings.on_warning(
        `directory: skipping node ${entry.node.label}: ${problem}${this.multiNode ? '; using the other nodes' : ''}`,
      );
    }
    if (!entry.excluded) this.scheduleProbe(entry);
  }

  private restore(entry: NodeEntry): void {
    if (entry.problem === undefined) return;
    entry.problem = undefined;
    entry.kind = undefined;
    entry.probe_delay_ms = PROBE_FIRST_MS;
    clearTimeout(entry.probe);
    entry.probe = undefined;
    this.tally.restored(entry.node.label);
    if (this.multiNode)
      this.settings.on_warning(`directory: node ${entry.node.label} serves again`);
  }

  /** Checks a skipped node in the background until it serves again (backoff up to 10 s). */
  private scheduleProbe(entry: NodeEntry): void {
    if (this.ended || entry.probe !== undefined) return;
    entry.probe = setTimeout(() => {
      entry.probe = undefined;
      void this.probe(entry);
    }, entry.probe_delay_ms);
    entry.probe.unref();
    entry.probe_delay_ms = Math.min(entry.probe_delay_ms * 2, PROBE_MAX_MS);
  }

  private async probe(entry: NodeEntry): Promise<void> {
    if (this.ended || entry.problem === undefined || entry.excluded) return;
    try {
      const raw = await poolConnection(entry.pool);
      const ok = await this.check(entry, raw).finally(() => raw.release());
      if (ok) return this.restore(entry);
    } catch (err) {
      entry.problem = unreachable(err);
      entry.kind = 'unreachable';
    }
    this.scheduleProbe(entry);
  }

  /** The error for "no node serves", naming each node's problem (and pc.bootstrap when apt). */
  noServingNode(): NoServingNodeError {
    const reports = this.reports();
    const list = reports.map((r) => `${r.label}: ${r.problem ?? 'no answer'}`).join('; ');
    // Reachable Galera nodes, all outside the primary component: the majority is gone.
    const reached = reports.filter((r) => r.kind !== 'unreachable' && r.state?.on === true);
    const nonPrimary = reached.filter((r) => r.state?.cluster_status !== 'Primary');
    let advice = '';
    if (nonPrimary.length > 0 && nonPrimary.length === reached.length) {
      advice =
        ` — the reachable node(s) lost the primary component: the majority of the cluster is gone (e.g. two of three machines). ` +
        `Bring the lost machines back, or, when you are sure they are down, make the most advanced survivor (highest wsrep_last_committed: ${nonPrimary
          .map((r) => `${r.label}=${r.state?.last_committed}`)
          .join(', ')}) primary with: ${PC_BOOTSTRAP_SQL} (docs/DEPLOY.md)`;
    }
    const what = this.multiNode
      ? `no node of the directory's Galera cluster serves`
      : 'the directory database does not serve';
    return new NoServingNodeError(`${what} (${list})${advice}`, reports);
  }
}

type QueryCallback = (error: unknown, result: unknown) => void;

/** MariaDB's ER_UNKNOWN_COM_ERROR, which Galera uses for "WSREP has not yet prepared node". */
export const ER_WSREP_NOT_READY = 1047;

function createNodePool(
  node: MysqlNode,
  settings: MysqlNodesSettings,
  connectTimeout: number,
): Pool {
  const pool = createPool({
    uri: node.url,
    connectionLimit: settings.pool_size,
    connectTimeout,
    waitForConnections: true,
    queueLimit: 10_000,
    enableKeepAlive: true,
    idleTimeout: 30_000,
    charset: 'UTF8MB4_BIN',
    supportBigNumbers: true,
  });
  pool.on('connection', (connection) => {
    connection.on('error', (err) =>
      settings.on_warning(
        `directory: MySQL connection to ${node.label} lost: ${describeError(err)}`,
      ),
    );
  });
  return pool;
}

/**
 * Strict mode: an over-long value is an error, never silently truncated. READ COMMITTED: a read
 * after taking a row lock sees the latest commits (MySQL's default REPEATABLE READ would show the
 * snapshot from the transaction's first read). Constant statements; the only number is computed
 * here, never taken from input.
 */
function sessionSettings(settings: MysqlNodesSettings): string[] {
  const lockWaitSeconds = Math.max(1, Math.ceil(settings.operation_timeout_ms / 1000));
  return [
    "set session sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,ONLY_FULL_GROUP_BY'",
    'set session transaction isolation level read committed',
    `set session innodb_lock_wait_timeout = ${lockWaitSeconds}`,
  ];
}

function poolConnection(pool: Pool): Promise<PoolConnection> {
  return new Promise((resolve, reject) =>
    pool.getConnection((err, connection) => (err ? reject(err) : resolve(connection))),
  );
}

function rawQuery(raw: PoolConnection, sql: string): Promise<unknown> {
  return new Promise((resolve, reject) =>
    raw.query(sql, (err, rows) => (err ? reject(err) : resolve(rows))),
  );
}

function unreachable(err: unknown): string {
  return `cannot connect (${describeError(err)})`;
}

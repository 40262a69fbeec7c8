/**
 * What a MariaDB server says about its Galera replication (`wsrep_*` status and variables), read
 * over an ordinary SQL connection, and what that means for using the node. Shared by the node
 * launcher (waiting until a node is Synced) and the directory store (skipping a node that cannot
 * take work, refusing a node of another cluster).
 */

/** The subset of `wsrep_*` that says whether a node can serve. */
export interface WsrepState {
  /** `wsrep_on`: false for a plain MariaDB/MySQL server (no Galera). */
  on: boolean;
  /** `wsrep_ready`: the node accepts queries. */
  ready: boolean;
  /** `wsrep_connected`: the node talks to a group. */
  connected: boolean;
  /** `wsrep_local_state_comment`: Synced, Donor/Desynced, Joining, Joined, Initialized… */
  local_state: string;
  /** `wsrep_cluster_status`: Primary, non-Primary or Disconnected. */
  cluster_status: string;
  /** `wsrep_cluster_size`: nodes in this node's component. */
  cluster_size: number;
  /** `wsrep_cluster_state_uuid`: the cluster's history; differs for another cluster. */
  cluster_state_uuid: string;
  /** `wsrep_cluster_name`. */
  cluster_name: string;
  /** `wsrep_last_committed`: the newest write set this node applied (-1 when unknown). */
  last_committed: number;
  /** `wsrep_node_name`. */
  node_name: string;
}

/** Anything that runs a query and returns rows as objects (mysql2's promise connection). */
export interface QueryRunner {
  query(sql: string): Promise<unknown>;
}

const STATUS_NAMES = [
  'wsrep_ready',
  'wsrep_connected',
  'wsrep_local_state_comment',
  'wsrep_cluster_status',
  'wsrep_cluster_size',
  'wsrep_cluster_state_uuid',
  'wsrep_last_committed',
];
const VARIABLE_NAMES = ['wsrep_on', 'wsrep_cluster_name', 'wsrep_node_name'];

export const WSREP_STATUS_SQL = `show global status where variable_name in (${quoted(STATUS_NAMES)})`;
export const WSREP_VARIABLES_SQL = `show global variables where variable_name in (${quoted(VARIABLE_NAMES)})`;

/** Reads the node's state; a server without Galera reads as `on: false`. */
export async function readWsrepState(connection: QueryRunner): Promise<WsrepState> {
  const values = new Map<string, string>();
  for (const statement of [WSREP_STATUS_SQL, WSREP_VARIABLES_SQL]) {
    for (const [name, value] of nameValueRows(await connection.query(statement))) {
      values.set(name.toLowerCase(), value);
    }
  }
  return wsrepStateFrom(values);
}

export function wsrepStateFrom(values: ReadonlyMap<string, string>): WsrepState {
  const text = (name: string) => values.get(name) ?? '';
  const integer = (name: string, fallback: number) => {
    const n = Number(text(name));
    return text(name) !== '' && Number.isSafeInteger(n) ? n : fallback;
  };
  return {
    on: text('wsrep_on').toUpperCase() === 'ON',
    ready: text('wsrep_ready').toUpperCase() === 'ON',
    connected: text('wsrep_connected').toUpperCase() === 'ON',
    local_state: text('wsrep_local_state_comment'),
    cluster_status: text('wsrep_cluster_status'),
    cluster_size: integer('wsrep_cluster_size', 0),
    cluster_state_uuid: text('wsrep_cluster_state_uuid'),
    cluster_name: text('wsrep_cluster_name'),
    last_committed: integer('wsrep_last_committed', -1),
    node_name: text('wsrep_node_name'),
  };
}

/** Whether a Galera node may take reads and writes: ready, in the primary component, synced. */
export function isServing(state: WsrepState): boolean {
  return (
    state.ready &&
    state.cluster_status === 'Primary' &&
    (state.local_state === 'Synced' || state.local_state === 'Donor/Desynced')
  );
}

/** Why a Galera node cannot serve, in words; undefined when it can. */
export function servingProblem(state: WsrepState): string | undefined {
  if (!state.on) return undefined;
  if (state.cluster_status !== 'Primary') {
    return `it is not in the primary component (wsrep_cluster_status=${state.cluster_status || 'unknown'}, ${state.cluster_size} node(s) in its component): it lost contact with the majority of the cluster`;
  }
  if (!isServing(state)) {
    return `it is not synced (wsrep_local_state_comment=${state.local_state || 'unknown'}, wsrep_ready=${state.ready ? 'ON' : 'OFF'})`;
  }
  return undefined;
}

/** The SQL that makes a surviving non-primary node form a new primary component on its own. */
export const PC_BOOTSTRAP_SQL = "SET GLOBAL wsrep_provider_options='pc.bootstrap=YES'";

function nameValueRows(result: unknown): Array<[string, string]> {
  const rows = Array.isArray(result) && Array.isArray(result[0]) ? result[0] : result;
  if (!Array.isArray(rows)) return [];
  const pairs: Array<[string, string]> = [];
  for (const row of rows) {
    if (typeof row !== 'object' || row === null) continue;
    const record = row as Record<string, unknown>;
    const name = record.Variable_name ?? record.VARIABLE_NAME;
    const value = record.Value ?? record.VALUE;
    if (typeof name === 'string') pairs.push([name, value === null ? '' : String(value)]);
  }
  return pairs;
}

function quoted(names: readonly string[]): string {
  return names.map((name) => `'${name}'`).join(', ');
}

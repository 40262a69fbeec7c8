/**
 * The directory database of the lab's cloud. `galera`: one MariaDB Galera node per cloud host
 * beside its server (the course deployment; see docs/DEPLOY.md). `sqlite`: one SQLite file that
 * every server opens through the shared filesystem — a stop-gap for machines without Galera,
 * not a replicated directory (killing a cloud host loses nothing only because the file is not
 * on it).
 */
import { join } from 'node:path';
import { CloudP2PError, ExitCode } from '../util/errors.js';
import type { ProcessRecord } from './processes.js';
import type { LabHost, LabTopology } from './topology.js';

export interface LabDatabase {
  readonly kind: 'galera' | 'sqlite';
  /** The `[directory] url` of the server on `host`. */
  urlFor(host: LabHost): string;
  /**
   * Starts the database node of a cloud host (nothing for SQLite). `first` is the lab's very
   * first start (the first node bootstraps a new cluster); otherwise the node joins and catches up.
   */
  startNode(host: LabHost, first: boolean): Promise<ProcessRecord[]>;
  /** A line for `lab show`: the node's replication state. */
  describe(host: LabHost): Promise<string>;
}

export function sqliteDatabase(dir: string): LabDatabase {
  const url = `sqlite:${join(dir, 'directory.sqlite')}`;
  return {
    kind: 'sqlite',
    urlFor: () => url,
    startNode: async () => [],
    describe: async () => 'directory: shared SQLite file (stop-gap, not replicated)',
  };
}

export function databaseFor(
  kind: 'galera' | 'sqlite',
  dir: string,
  _topology: LabTopology,
): LabDatabase {
  if (kind === 'sqlite') return sqliteDatabase(dir);
  throw new CloudP2PError(
    'lab_unsupported',
    'the lab cannot run Galera nodes yet (--directory galera); use --directory sqlite',
    ExitCode.usage,
  );
}

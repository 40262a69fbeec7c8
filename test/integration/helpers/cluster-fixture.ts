/**
 * Shared helpers for tests that run real server processes: a temporary cluster, clients that
 * submit real images, and checks on results.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudClient } from '../../../src/client/cloud-client.js';
import { buildTaskPayload, verifyResult } from '../../../src/client/payload.js';
import { LocalCluster, type GenerateOptions } from '../../../src/server/local-cluster.js';
import {
  INSECURE_PLAINTEXT,
  type ClientSecurity,
  type TlsCredentials,
} from '../../../src/transport/tls.js';
import { packagePath } from '../../../src/util/package-info.js';
import { dashboardStreams, fileChanges, waitFor, type Wake } from '../../helpers/wake.js';

export const SAMPLE_IMAGE = new Uint8Array(
  readFileSync(packagePath('assets', 'samples', 'photo.jpg')),
);
export const SAMPLE_PAYLOAD = buildTaskPayload(SAMPLE_IMAGE);

export function requireBuild(): void {
  if (!existsSync(packagePath('dist', 'cli', 'main.js'))) {
    throw new Error(
      'integration tests run the built servers: run `npm run build` first (npm test does it)',
    );
  }
}

export interface TestCluster {
  cluster: LocalCluster;
  dir: string;
  cleanup(): Promise<void>;
}

export async function startTestCluster(
  options: Omit<GenerateOptions, 'dir'>,
  extraArgs: string[] = [],
): Promise<TestCluster> {
  requireBuild();
  const dir = mkdtempSync(join(tmpdir(), 'cloudp2p-it-'));
  const cluster = await LocalCluster.generate({ ...options, dir }, { env: { LOG_LEVEL: 'info' } });
  await cluster.startAll(extraArgs);
  return {
    cluster,
    dir,
    async cleanup() {
      await cluster.stopAll(5000);
      if (!process.env.CLOUDP2P_KEEP_TEST_DIRS) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function serversOf(cluster: LocalCluster): Array<{ host: string; port: number }> {
  return cluster.addresses.map((address) => {
    const [host, port] = address.split(':');
    return { host: host as string, port: Number(port) };
  });
}

/** How a hand-made link reaches this cluster: its CA, and optionally a key or certificate to prove. */
export function clientSecurityOf(
  cluster: LocalCluster,
  credentials: TlsCredentials | null = null,
  expectServerId?: number,
): ClientSecurity {
  const trust = cluster.clientTrust;
  if (trust === INSECURE_PLAINTEXT) return { kind: INSECURE_PLAINTEXT };
  return {
    kind: 'tls',
    clusterId: 1,
    trust,
    credentials,
    ...(expectServerId === undefined ? {} : { expectServerId }),
  };
}

export async function connectClient(
  cluster: LocalCluster,
  clientId: string,
  taskDeadline_ms = 2 * DEADLINE.progress_ms,
): Promise<CloudClient> {
  return CloudClient.connect({
    clientId,
    servers: serversOf(cluster),
    trust: cluster.clientTrust,
    taskDeadline_ms,
    connectTimeout_ms: DEADLINE.progress_ms,
  });
}

export interface Outcome {
  taskId: string;
  serverId: number;
  reassignments: number;
}

/** Runs `tasks` encryptions on one client, `concurrency` at a time; verifies every result. */
export async function runTasks(
  client: CloudClient,
  prefix: string,
  tasks: number,
  concurrency = tasks,
  onOutcome?: (outcome: Outcome) => void,
): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < tasks) {
      const taskId = `${prefix}-${next++}`;
      const result = await client.encrypt(taskId, SAMPLE_PAYLOAD);
      await verifyResult(result.png, SAMPLE_IMAGE);
      const outcome = { taskId, serverId: result.serverId, reassignments: result.reassignments };
      outcomes.push(outcome);
      onOutcome?.(outcome);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, tasks) }, lane));
  return outcomes;
}

/**
 * Deadlines for failure, never for speed: how long a wait may last before the test fails. A
 * healthy run goes on the moment the condition holds, so they can be generous: on two cores at
 * load ~25 one server process needs 5-9 s to start, three need well over 15 s.
 * CLOUDP2P_TEST_DEADLINE_SCALE (default 1) multiplies them for slower machines.
 */
const SCALE = Math.max(1, Number(process.env.CLOUDP2P_TEST_DEADLINE_SCALE) || 1);
export const DEADLINE = {
  /** Processes started and agreeing on one leader. */
  start_ms: 120_000 * SCALE,
  /** A new agreed leader after a kill, a pause or a resume (failure detection + election). */
  failover_ms: 60_000 * SCALE,
  /** Some observable progress (work queued, a counter moved). */
  progress_ms: 60_000 * SCALE,
};
/** vitest's per-test and per-hook limit for files that start clusters: above every deadline. */
export const TEST_TIMEOUT_MS = 300_000 * SCALE;

/**
 * Waits until `condition` holds or `timeout_ms` passes; returns whether it held. The condition is
 * checked again only when one of `wakes` reports a change (test/helpers/wake.ts), never after a
 * fixed time.
 */
export function eventually(
  condition: () => Promise<boolean> | boolean,
  timeout_ms: number,
  wakes: readonly Wake[],
): Promise<boolean> {
  return waitFor(condition, timeout_ms, wakes);
}

/** Every message of every member's dashboard stream, and every write to the cluster's files. */
export function clusterChanges(c: TestCluster): Wake[] {
  return [
    dashboardStreams(c.cluster.members.map((m) => m.httpUrl)),
    fileChanges(c.dir, { recursive: true }),
  ];
}

export { fileChanges, sampling, socketEvents, type Wake } from '../../helpers/wake.js';

/**
 * A cloud of real `cloudp2p server` processes for the browser tests. The configs name every
 * peer's http_address, so each dashboard can link to the others (LocalCluster.generate does
 * not write it). Needs `npm run build` first (dist/cli/main.js and dist/web/pages).
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudClient } from '../../../src/client/cloud-client.js';
import { buildTaskPayload } from '../../../src/client/payload.js';
import { LocalCluster, freePorts } from '../../../src/server/local-cluster.js';
import { packagePath } from '../../../src/util/package-info.js';

export interface BrowserTestCluster {
  cluster: LocalCluster;
  dir: string;
  /** The leader all servers agreed on at start. */
  leader: number;
  url(id: number): string;
  /** Kills what still runs, keeps the server logs in `logsTo`, removes the rest. */
  cleanup(logsTo: string): Promise<void>;
}

export interface BrowserClusterOptions {
  size: number;
  /** Turns the failure simulation on (one server at a time goes silent). */
  failureSimulation?: { interval_secs: number; max_silence_secs: number };
}

export async function startBrowserTestCluster(
  options: BrowserClusterOptions,
): Promise<BrowserTestCluster> {
  const { size, failureSimulation } = options;
  for (const built of [
    ['dist', 'cli', 'main.js'],
    ['dist', 'web', 'pages', '.vite', 'manifest.json'],
  ]) {
    if (!existsSync(packagePath(...built)))
      throw new Error(`${built.join('/')} is missing: run \`npm run build\` first`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'cloudp2p-e2e-'));
  const ports = await freePorts(size * 2);
  const ids = Array.from({ length: size }, (_, i) => i + 1);
  const tcp = (id: number): string => `127.0.0.1:${ports[(id - 1) * 2]}`;
  const http = (id: number): string => `127.0.0.1:${ports[(id - 1) * 2 + 1]}`;
  const paths = ids.map((id) => {
    const peers = ids
      .filter((other) => other !== id)
      .map(
        (other) =>
          `  { id = ${other}, address = "${tcp(other)}", http_address = "${http(other)}" },`,
      );
    const toml = [
      '[server]',
      `id = ${id}`,
      `address = "${tcp(id)}"`,
      `http_address = "${http(id)}"`,
      `data_dir = "data/server-${id}"`,
      '[peers]',
      'peers = [',
      ...peers,
      ']',
      '[election]',
      'heartbeat_interval_secs = 0.25',
      'election_timeout_secs = 0.5',
      'failure_timeout_secs = 1.0',
      'monitor_interval_secs = 0.1',
      '[encryption]',
      'thread_pool_size = 1',
      '[failure_simulation]',
      `enabled = ${failureSimulation !== undefined}`,
      `interval_secs = ${failureSimulation?.interval_secs ?? 30}`,
      `max_silence_secs = ${failureSimulation?.max_silence_secs ?? 20}`,
      // Laid out as `cluster init` lays them out; ensureKeys below makes them.
      '[tls]',
      'ca = "keys/ca.crt"',
      `cert = "keys/server-${id}.crt"`,
      `key = "keys/server-${id}.key"`,
      '',
    ].join('\n');
    const path = join(dir, `server${id}.toml`);
    writeFileSync(path, toml);
    return path;
  });
  await LocalCluster.ensureKeys(paths);
  const cluster = LocalCluster.fromConfigs(paths, join(dir, 'logs'), {
    env: { LOG_LEVEL: 'info' },
  });
  await cluster.startAll();
  try {
    // A deadline for failure, not for speed: three processes start slowly on a busy machine.
    const { leader } = await cluster.waitForLeader(120_000);
    return {
      cluster,
      dir,
      leader,
      url: (id) => `${cluster.member(id).httpUrl}/`,
      cleanup: async (logsTo) => {
        await Promise.all(cluster.members.map((m) => cluster.kill(m.id)));
        cpSync(join(dir, 'logs'), logsTo, { recursive: true });
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await Promise.all(cluster.members.map((m) => cluster.kill(m.id)));
    throw new Error(`${(err as Error).message}; server logs in ${join(dir, 'logs')}`);
  }
}

export interface BackgroundLoad {
  /** Stops sending and waits for the tasks in flight; returns how they ended. */
  stop(): Promise<{ ok: number; failed: number }>;
}

/**
 * Keeps `concurrency` encryption tasks in flight through a real cloud client, so the
 * dashboard has rates to show and the timeline has reassignments after a kill. Bounded:
 * at most `max_tasks` tasks, and it stops when told.
 */
export async function startBackgroundLoad(
  cluster: LocalCluster,
  options: { concurrency: number; max_tasks: number },
): Promise<BackgroundLoad> {
  const client = await CloudClient.connect({
    clientId: `e2e-load-${process.pid}`,
    trust: cluster.clientTrust,
    servers: cluster.members.map((m) => {
      const [host, port] = m.address.split(':') as [string, string];
      return { host, port: Number(port) };
    }),
    taskDeadline_ms: 60_000,
  });
  const payload = buildTaskPayload(readFileSync(packagePath('assets', 'samples', 'photo.jpg')));
  let stopping = false;
  let next = 0;
  const counts = { ok: 0, failed: 0 };
  const lane = async (): Promise<void> => {
    while (!stopping && next < options.max_tasks) {
      const taskId = `t${next++}`;
      try {
        await client.encrypt(taskId, payload);
        counts.ok++;
      } catch {
        counts.failed++;
      }
    }
  };
  const lanes = Array.from({ length: options.concurrency }, lane);
  return {
    stop: async () => {
      stopping = true;
      await Promise.all(lanes);
      client.close();
      return counts;
    },
  };
}

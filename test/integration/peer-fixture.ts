/**
 * Shared setup for the peer tests: a cloud of three real server processes sharing one SQLite
 * directory, and peer agents (in this process, over real TCP) with their own data directories.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PeerAgent, type PeerAgentOptions } from '../../src/peer/agent.js';
import type { AgentEvent } from '../../src/peer/api-types.js';
import { DataDir } from '../../src/peer/data-dir.js';
import { packagePath } from '../../src/util/package-info.js';
import { createLogger } from '../../src/util/log.js';
import { modesNotPrivate } from '../helpers/file-modes.js';
import { Signal } from '../helpers/signal.js';
import { fileChanges, waitFor } from '../helpers/wake.js';
import {
  DEADLINE,
  clusterChanges,
  serversOf,
  startTestCluster,
  type TestCluster,
} from './helpers/cluster-fixture.js';

export const PHOTO = new Uint8Array(readFileSync(packagePath('assets', 'samples', 'photo.jpg')));
export const SMALL_PNG = new Uint8Array(
  readFileSync(packagePath('assets', 'samples', 'small.png')),
);
export const COVER = new Uint8Array(readFileSync(packagePath('assets', 'cover.png')));

export interface PeerWorld {
  tc: TestCluster;
  dir: string;
  servers: Array<{ host: string; port: number }>;
  agents: PeerAgent[];
  cleanup(): Promise<void>;
}

export async function startPeerWorld(): Promise<PeerWorld> {
  const tc = await startTestCluster({ size: 3, directoryUrl: 'sqlite:directory.sqlite' });
  // Generous: starting three servers on a machine busy with other work can take a while.
  await tc.cluster.waitForLeader(DEADLINE.start_ms);
  // Agents (in this process and the CLI ones it spawns) trust this test cloud's CA.
  if (tc.cluster.caPath) process.env.CLOUDP2P_CLOUD_CA = tc.cluster.caPath;
  const dir = mkdtempSync(join(tmpdir(), 'cloudp2p-peers-'));
  const world: PeerWorld = {
    tc,
    dir,
    servers: serversOf(tc.cluster),
    agents: [],
    async cleanup() {
      await Promise.allSettled(world.agents.map((agent) => agent.stop('test over')));
      await tc.cleanup();
      if (!process.env.CLOUDP2P_KEEP_TEST_DIRS) rmSync(dir, { recursive: true, force: true });
    },
  };
  return world;
}

export function dataDirOf(world: PeerWorld, username: string): DataDir {
  return new DataDir(join(world.dir, username));
}

export async function register(world: PeerWorld, username: string): Promise<void> {
  await PeerAgent.register({
    dataDir: dataDirOf(world, username),
    username,
    servers: world.servers,
  });
}

const recorded = new WeakMap<PeerAgent, { events: AgentEvent[]; signal: Signal }>();

/** Opens `username`'s agent (registering it first if needed), recording its events. */
export async function openAgent(
  world: PeerWorld,
  username: string,
  options: Partial<PeerAgentOptions> = {},
): Promise<PeerAgent> {
  const dataDir = dataDirOf(world, username);
  if (!dataDir.hasIdentity()) await register(world, username);
  const agent = PeerAgent.open({
    dataDir,
    mode: 'running',
    heartbeat_ms: 500,
    logger: createLogger(`peer/${username}`, {
      level: process.env.LOG_LEVEL === 'debug' ? 'debug' : 'warn',
    }),
    ...options,
  });
  const record = { events: [] as AgentEvent[], signal: new Signal() };
  recorded.set(agent, record);
  agent.events.on((event) => {
    record.events.push(event);
    record.signal.changed();
  });
  world.agents.push(agent);
  return agent;
}

/** Opens and, for running agents, starts `username`'s agent. */
export async function agentFor(
  world: PeerWorld,
  username: string,
  options: Partial<PeerAgentOptions> = {},
): Promise<PeerAgent> {
  const agent = await openAgent(world, username, options);
  if ((options.mode ?? 'running') === 'running') await agent.start();
  return agent;
}

/**
 * Resolves with the first event of `type` matching `match` that the agent emitted since it
 * was opened (or emits within `timeout_ms`).
 */
export async function eventOf<T extends AgentEvent['type']>(
  agent: PeerAgent,
  type: T,
  match: (event: Extract<AgentEvent, { type: T }>) => boolean = () => true,
  timeout_ms = DEADLINE.progress_ms,
): Promise<Extract<AgentEvent, { type: T }>> {
  const record = recorded.get(agent);
  if (!record) throw new Error(`${agent.username}'s agent was not opened by openAgent()`);
  const find = (): Extract<AgentEvent, { type: T }> | undefined =>
    record.events.find(
      (event): event is Extract<AgentEvent, { type: T }> =>
        event.type === type && match(event as Extract<AgentEvent, { type: T }>),
    );
  await record.signal.until(
    () => find() !== undefined,
    `a ${type} event on ${agent.username}'s agent`,
    timeout_ms,
  );
  return find() as Extract<AgentEvent, { type: T }>;
}

/**
 * Waits until `check` returns a value (not undefined/false); throws after `timeout_ms`. `check`
 * runs again whenever the world changes: a file written by an agent (in this process or a CLI
 * one) or by the cloud (its directory database, its logs), or a server's dashboard message.
 */
export async function until<T>(
  world: PeerWorld,
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeout_ms = DEADLINE.progress_ms,
): Promise<T> {
  let value: T | undefined | false;
  let lastError: unknown = null;
  const held = await waitFor(
    async () => {
      try {
        value = await check();
        return value !== undefined && value !== false;
      } catch (err) {
        // A transient failure while waiting (logged, checked again); the last one is reported.
        lastError = err;
        process.stderr.write(`(while waiting for ${what}: ${String(err)})\n`);
        return false;
      }
    },
    timeout_ms,
    [fileChanges(world.dir, { recursive: true }), ...clusterChanges(world.tc)],
  );
  if (!held)
    throw new Error(
      `timed out waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`,
    );
  return value as T;
}

/**
 * Every file and folder under `username`'s data directory whose mode lets anyone but the user
 * read, write or enter it (expected: files 0600, folders 0700), as "path mode" lines.
 */
export function notPrivate(world: PeerWorld, username: string): string[] {
  return modesNotPrivate(dataDirOf(world, username).root);
}

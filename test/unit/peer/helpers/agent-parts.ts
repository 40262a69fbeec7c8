/**
 * Real parts for testing the owner and viewer sides one at a time: a one-server cloud running
 * in this process (its directory on SQLite, its encryption workers, real sockets), and an
 * agent context built from the same parts a PeerAgent wires (database, data directory,
 * directory client, P2P node, pinned keys, cloud client), without the agent around them.
 */
import { initClusterKeys, loadServerTls } from '../../../../src/server/cluster-keys.js';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudClient } from '../../../../src/client/cloud-client.js';
import { openDirectory } from '../../../../src/directory/index.js';
import { AgentDatabase } from '../../../../src/peer/agent-db.js';
import type { AgentEvent } from '../../../../src/peer/api-types.js';
import {
  BackgroundWork,
  EventBus,
  KeyBook,
  KeyedQueue,
  type AgentContext,
} from '../../../../src/peer/context.js';
import { DataDir } from '../../../../src/peer/data-dir.js';
import { PeerDirectory } from '../../../../src/peer/directory.js';
import { OnlinePeers } from '../../../../src/peer/online-peers.js';
import { P2PNode } from '../../../../src/peer/p2p-node.js';
import { PeerRefusal, type PeerSession, type Reply } from '../../../../src/peer/p2p-session.js';
import type { PeerMessage } from '../../../../src/protocol/peer-protocol.js';
import { registerUser } from '../../../../src/peer/registration.js';
import { readServerConfig } from '../../../../src/server/config.js';
import { DirectoryService } from '../../../../src/server/directory-service.js';
import { createEncryptExecutor } from '../../../../src/server/encrypt-executor.js';
import { freePorts } from '../../../../src/server/local-cluster.js';
import { ServerRuntime } from '../../../../src/server/runtime.js';
import type { Endpoint } from '../../../../src/transport/endpoint.js';
import { parseTomlText } from '../../../../src/util/config-reader.js';
import { createLogger } from '../../../../src/util/log.js';

export interface OneServerCloud {
  servers: Endpoint[];
  stop(): Promise<void>;
}

/** One cloud server in this process, with the directory of service on SQLite in `dir`. */
export async function startOneServerCloud(dir: string): Promise<OneServerCloud> {
  const [tcp, http] = (await freePorts(2)) as [number, number];
  const toml = `
[server]
id = 1
address = "127.0.0.1:${tcp}"
http_address = "127.0.0.1:${http}"
data_dir = "server-1"
[encryption]
thread_pool_size = 1
`;
  // TLS as everywhere: keys for this one-server cloud, and agents trust its CA.
  await initClusterKeys({ dir: join(dir, 'keys'), clusterId: 1, serverIds: [1] });
  process.env.CLOUDP2P_CLOUD_CA = join(dir, 'keys', 'ca.crt');
  const config = readServerConfig(
    parseTomlText(
      `${toml}\n[tls]\nca = "keys/ca.crt"\ncert = "keys/server-1.crt"\nkey = "keys/server-1.key"\n`,
      'server1.toml',
    ),
    dir,
  );
  const logger = createLogger('test-server', { level: 'error' });
  const executor = await createEncryptExecutor({
    threads: 1,
    maxQueue: 8,
    coverPath: undefined,
    jobTimeout_ms: 120_000,
  });
  // Presence never lapses here: these tests are about owners and viewers, not heartbeats, and on
  // a busy machine a test can outlast the default 15 s between sign-in and use.
  const store = await openDirectory(`sqlite:${join(dir, 'directory.sqlite')}`, {
    limits: { presence_ttl_ms: 24 * 60 * 60 * 1000 },
  });
  const directory = new DirectoryService({ store, clusterId: config.cluster_id, logger });
  const runtime = new ServerRuntime({
    config,
    logger,
    executor,
    extraHandlers: [directory],
    security: loadServerTls(config).security,
  });
  await runtime.start();
  return {
    servers: [{ host: '127.0.0.1', port: tcp }],
    stop: () => runtime.stop(1000),
  };
}

type Serve = (session: PeerSession, message: PeerMessage) => Promise<Reply | null>;

export interface TestAgent {
  ctx: AgentContext;
  /** What this agent's P2P listener answers (an owner or viewer side's `handle`). */
  serve: Serve;
  /** Every event the parts emitted, in order. */
  events: AgentEvent[];
  /** The clock of this agent's online list (starts at the real time; moves only when told). */
  clock: { now_ms: number; advance(ms: number): void };
  /** Listens for peers and signs in (so others see this user online); returns the port. */
  goOnline(): Promise<number>;
  close(): Promise<void>;
}

/** Registers `username` and builds the context an agent would give its owner and viewer sides. */
export async function testAgent(
  dir: string,
  username: string,
  servers: Endpoint[],
): Promise<TestAgent> {
  const root = join(dir, username);
  mkdirSync(root, { recursive: true });
  const dataDir = new DataDir(root);
  await registerUser({ dataDir, username, servers });
  const identity = dataDir.readIdentity();
  const logger = createLogger(`test-${username}`, { level: 'error' });
  const db = new AgentDatabase(dataDir.databasePath);
  const directory = new PeerDirectory({ servers, clusterId: 1 });
  directory.actAs(identity.user_id, identity.keys);
  const me = { user_id: identity.user_id, username, keys: identity.keys };
  const keys = new KeyBook(db, directory);
  const queue = new KeyedQueue();
  const background = new BackgroundWork();
  const events = new EventBus();
  const seen: AgentEvent[] = [];
  events.on((event) => seen.push(event));
  const p2p = new P2PNode({
    me,
    logger,
    resolvePeer: (userId) => keys.byId(userId),
    handler: async (session, message) => {
      const reply = await agent.serve(session, message);
      if (!reply)
        throw new PeerRefusal('unsupported', `${message.type} is not served in this test`);
      return reply;
    },
  });
  const clock = {
    now_ms: Date.now(),
    advance(ms: number) {
      clock.now_ms += ms;
    },
  };
  const online = new OnlinePeers({
    userId: identity.user_id,
    directory,
    keys,
    p2p,
    now_ms: () => clock.now_ms,
  });
  let cloud: Promise<CloudClient> | null = null;
  const ctx: AgentContext = {
    me,
    dataDir,
    db,
    directory,
    p2p,
    keys,
    events,
    logger,
    mode: 'running',
    cloud: () =>
      (cloud ??= CloudClient.connect({
        clientId: `test-${username}-${randomBytes(4).toString('hex')}`,
        servers,
        taskDeadline_ms: 120_000,
        connectTimeout_ms: 60_000,
      })),
    onlinePeer: (userId) => online.find(userId),
    serialize: (key, task) => queue.run(key, task),
    inBackground: (task) => background.add(task),
  };
  const agent: TestAgent = {
    ctx,
    serve: async () => null,
    events: seen,
    clock,
    async goOnline() {
      const bound = await p2p.listen('127.0.0.1', 0);
      await directory.login(username, identity.keys, { address: '127.0.0.1', port: bound.port });
      return bound.port;
    },
    async close() {
      await p2p.close();
      (await cloud?.catch(() => null))?.close();
      await queue.settled();
      await background.settle(1000);
      directory.close();
      db.close();
    },
  };
  return agent;
}

export interface ThreeUsers {
  cloud: OneServerCloud;
  alice: TestAgent;
  bob: TestAgent;
  carol: TestAgent;
  close(): Promise<void>;
}

/** A one-server cloud in a temporary folder, and alice, bob and carol registered with it. */
export async function threeUsers(prefix: string): Promise<ThreeUsers> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const cloud = await startOneServerCloud(dir);
  const [alice, bob, carol] = [
    await testAgent(dir, 'alice', cloud.servers),
    await testAgent(dir, 'bob', cloud.servers),
    await testAgent(dir, 'carol', cloud.servers),
  ];
  return {
    cloud,
    alice,
    bob,
    carol,
    async close() {
      for (const agent of [alice, bob, carol]) await agent.close();
      await cloud.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `from` opens a P2P session to `to`'s agent (`to` is online). */
export async function sessionTo(from: TestAgent, to: TestAgent): Promise<PeerSession> {
  const peer = await from.ctx.onlinePeer(to.ctx.me.user_id);
  if (!peer) throw new Error(`${to.ctx.me.username} is not online`);
  return from.ctx.p2p.connect(peer);
}

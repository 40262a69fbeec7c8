/**
 * `cloudp2p lab user-host <dir>`: what runs on a user host of the lab (inside its namespace).
 * It hosts that host's peer agents — each a full `PeerAgent`, the agent of `cloudp2p peer
 * start`, with its own data directory, key, P2P listener on the host's address and cloud
 * connections — and carries out the workload's operations on them. One process for all the
 * agents of a host, as the stress tool keeps its clients in one process: a host killed with
 * -9 loses every agent at once, like a machine that loses power.
 *
 * The lab's commands reach it through a Unix socket in the host's folder (no network: control
 * traffic is never cut with the host, and only root can open the socket): HTTP with JSON
 * bodies, see control.ts.
 */
import { createHash } from 'node:crypto';
import { chmodSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { PeerAgent } from '../peer/agent.js';
import type { AgentEvent } from '../peer/api-types.js';
import { DataDir } from '../peer/data-dir.js';
import { DIAL, parseEndpoint, type Endpoint } from '../transport/endpoint.js';
import { CloudP2PError, ExitCode, errorMessage } from '../util/errors.js';
import { createLogger, type Logger } from '../util/log.js';
import {
  CONTROL_SOCKET,
  MAX_CONTROL_BODY_BYTES,
  MAX_EVENT_WAIT_MS,
  parseHostConfig,
  type EventsAnswer,
  type HostConfig,
  type UserHostStatus,
  validateOp,
} from './control.js';
import type { AgentEventRecord, LabOp, OpOutcome, OpResult } from './ops.js';

/** Events kept for the driver to collect; older ones are dropped (and counted). */
const MAX_EVENTS_KEPT = 200_000;
const REGISTER_RETRY_MS = 1000;
const REGISTER_DEADLINE_MS = 180_000;

interface HostedAgent {
  username: string;
  dataDir: DataDir;
  agent: PeerAgent | null;
  /** A sign-in or sign-out in progress: operations wait for it. */
  transition: Promise<void> | null;
}

export class UserHost {
  private readonly agents = new Map<string, HostedAgent>();
  private readonly events: (AgentEventRecord & { seq: number })[] = [];
  private eventSeq = 0;
  private droppedEvents = 0;
  private readonly waiters = new Set<() => void>();
  private readonly images = new Map<string, Uint8Array>();
  private readonly logger: Logger;
  private stopping = false;

  constructor(
    private readonly dir: string,
    private readonly config: HostConfig,
  ) {
    this.logger = createLogger(`lab/${config.host}`);
    for (const username of config.agents)
      this.agents.set(username, {
        username,
        dataDir: new DataDir(join(dir, 'agents', username)),
        agent: null,
        transition: null,
      });
    for (const image of config.images) this.images.set(image.name, readFileSync(image.path));
  }

  static fromDir(dir: string): UserHost {
    return new UserHost(dir, parseHostConfig(readFileSync(join(dir, 'host.json'), 'utf8')));
  }

  /** Registers the agents that are not registered yet, then signs all of them in. */
  async start(): Promise<void> {
    for (const hosted of this.agents.values()) await this.ensureRegistered(hosted);
    // Sign in a few at a time: a host coming back must not swamp a cloud that is catching up.
    const queue = [...this.agents.values()];
    const signIn = async (): Promise<void> => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        try {
          await this.signIn(next);
        } catch (err) {
          this.logger.warn('sign-in failed; the workload may sign in again', {
            agent: next.username,
            error: errorMessage(err),
          });
        }
      }
    };
    await Promise.all(Array.from({ length: 4 }, signIn));
  }

  private async ensureRegistered(hosted: HostedAgent): Promise<void> {
    if (hosted.dataDir.hasIdentity()) return;
    const deadline = Date.now() + REGISTER_DEADLINE_MS;
    for (;;) {
      try {
        await PeerAgent.register({
          dataDir: hosted.dataDir,
          username: hosted.username,
          servers: this.servers(),
        });
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        this.logger.info('register failed; retrying', {
          agent: hosted.username,
          error: errorMessage(err),
        });
        await new Promise((resolve) => setTimeout(resolve, REGISTER_RETRY_MS));
      }
    }
  }

  private servers(): Endpoint[] {
    // One parser for host:port (IPv6 in brackets too); a bad address names itself.
    return this.config.servers.map((address) => parseEndpoint(address, DIAL));
  }

  private async signIn(hosted: HostedAgent): Promise<void> {
    if (hosted.agent)
      throw new CloudP2PError('already_signed_in', `${hosted.username} is signed in`);
    const agent = PeerAgent.open({
      dataDir: hosted.dataDir,
      mode: 'running',
      listenHost: this.config.address,
      advertiseHost: this.config.address,
      heartbeat_ms: this.config.heartbeat_ms,
      logger: this.logger.child(hosted.username),
    });
    agent.events.on((event) => this.record(hosted.username, event));
    await agent.start();
    hosted.agent = agent;
  }

  private async signOut(hosted: HostedAgent): Promise<void> {
    const agent = hosted.agent;
    if (!agent) throw new CloudP2PError('signed_out', `${hosted.username} is not signed in`);
    hosted.agent = null;
    await agent.stop('signed out by the lab workload');
  }

  private record(agent: string, event: AgentEvent): void {
    if (event.type === 'encrypt-progress') return;
    this.events.push({
      seq: ++this.eventSeq,
      at_ms: Date.now(),
      host: this.config.host,
      agent,
      event: event as AgentEventRecord['event'],
    });
    if (this.events.length > MAX_EVENTS_KEPT) {
      this.events.shift();
      this.droppedEvents++;
    }
    for (const wake of this.waiters) wake();
    this.waiters.clear();
  }

  status(): UserHostStatus {
    return {
      host: this.config.host,
      pid: process.pid,
      agents: [...this.agents.values()].map((h) => ({
        username: h.username,
        online: h.agent !== null,
        user_id: h.dataDir.hasIdentity() ? h.dataDir.readIdentity().user_id : null,
      })),
      events: { last_seq: this.eventSeq, dropped: this.droppedEvents },
    };
  }

  async eventsAfter(after: number, wait_ms: number): Promise<EventsAnswer> {
    if (this.eventSeq <= after && wait_ms > 0)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(wait_ms, MAX_EVENT_WAIT_MS));
        this.waiters.add(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    const events = this.events.filter((e) => e.seq > after).slice(0, 5000);
    return {
      runner: process.pid,
      events,
      last_seq: events.at(-1)?.seq ?? Math.max(after, this.eventSeq),
    };
  }

  /** Carries out one operation and says how it went; never throws. */
  async execute(op: LabOp): Promise<OpOutcome> {
    const start_ms = Date.now();
    const started = performance.now();
    try {
      const result = await this.run(op);
      return {
        start_ms,
        latency_ms: round1(performance.now() - started),
        ok: true,
        result,
        error: null,
      };
    } catch (err) {
      return {
        start_ms,
        latency_ms: round1(performance.now() - started),
        ok: false,
        result: null,
        error: {
          code: (err as { code?: unknown }).code?.toString().slice(0, 64) ?? 'error',
          message: errorMessage(err).slice(0, 500),
        },
      };
    }
  }

  private hosted(username: string): HostedAgent {
    const hosted = this.agents.get(username);
    if (!hosted)
      throw new CloudP2PError('lab_unknown_agent', `no agent ${username} on ${this.config.host}`);
    return hosted;
  }

  private async online(username: string): Promise<PeerAgent> {
    const hosted = this.hosted(username);
    if (hosted.transition) await hosted.transition;
    if (!hosted.agent) throw new CloudP2PError('signed_out', `${username} is signed out`);
    return hosted.agent;
  }

  private async transition(hosted: HostedAgent, action: () => Promise<void>): Promise<void> {
    if (hosted.transition) await hosted.transition;
    const running = action();
    hosted.transition = running.catch(() => undefined);
    try {
      await running;
    } finally {
      hosted.transition = null;
    }
  }

  private async run(op: LabOp): Promise<OpResult> {
    switch (op.kind) {
      case 'sign_in':
        await this.transition(this.hosted(op.agent), () => this.signIn(this.hosted(op.agent)));
        return { kind: 'sign_in' };
      case 'sign_out':
        await this.transition(this.hosted(op.agent), () => this.signOut(this.hosted(op.agent)));
        return { kind: 'sign_out' };
      default:
        break;
    }
    const agent = await this.online(op.agent);
    switch (op.kind) {
      case 'encrypt': {
        const bytes = this.images.get(op.image);
        if (!bytes)
          throw new CloudP2PError('lab_unknown_image', `no image ${op.image} on this host`);
        const result = await agent.encrypt(bytes, op.title);
        const own = await agent.view(agent.username, result.image.image_id);
        const same = sha256(own.image) === sha256(bytes);
        return {
          kind: 'encrypt',
          image_id: result.image.image_id,
          server_id: result.server_id,
          reassignments: result.reassignments,
          verified: same && own.record.verdict === 'shown',
          verify_detail: same
            ? 'viewed back: the bytes sent'
            : `viewed back ${own.record.verdict} (${own.record.reason}): not the bytes sent`,
        };
      }
      case 'peers': {
        const peers = await agent.peers();
        return {
          kind: 'peers',
          online: peers.length,
          images: peers.reduce((n, p) => n + p.images.length, 0),
        };
      }
      case 'previews': {
        const listed = await agent.previews(op.owner);
        const first = listed[0];
        const bytes = first ? await agent.preview(op.owner, first.image_id) : new Uint8Array();
        return { kind: 'previews', listed: listed.length, fetched_bytes: bytes.length };
      }
      case 'request':
      case 'more_views': {
        const created = await agent.request(op.owner, op.image_id, op.views);
        return {
          kind: op.kind,
          request_id: created.request.request_id,
          request_kind: created.request.kind,
          owner_notified: created.owner_notified,
        };
      }
      case 'accept':
      case 'reject': {
        const answer = await agent.answer(
          op.request_id,
          op.kind === 'accept' ? 'accepted' : 'rejected',
        );
        return {
          kind: op.kind,
          request_id: answer.request.request_id,
          status: answer.request.status,
          grant: answer.grant
            ? {
                quota: answer.grant.quota,
                version: answer.grant.version,
                revoked: answer.grant.revoked,
                delivery: answer.grant.delivery,
              }
            : null,
        };
      }
      case 'view': {
        const outcome = await agent.view(op.owner, op.image_id);
        return {
          kind: 'view',
          verdict: outcome.record.verdict,
          reason: outcome.record.reason,
          views_left: outcome.record.views_left,
          quota: outcome.record.quota,
          consumed: outcome.record.consumed,
          sha256: sha256(outcome.image),
        };
      }
      case 'set_quota':
      case 'revoke': {
        const grant =
          op.kind === 'set_quota'
            ? await agent.setGrant(op.image_id, op.viewer, op.quota)
            : await agent.revoke(op.image_id, op.viewer);
        return {
          kind: op.kind,
          quota: grant.quota,
          version: grant.version,
          revoked: grant.revoked,
          delivery: grant.delivery,
        };
      }
    }
  }

  /** What every agent sees now (the checker compares it with the directory and the record). */
  async snapshot(username: string): Promise<unknown> {
    const agent = await this.online(username);
    await agent.sync();
    const [inbox, outbox, grants] = await Promise.all([
      agent.requests('owner'),
      agent.requests('requester'),
      agent.grants(),
    ]);
    return {
      username,
      user_id: agent.identity.user_id,
      inbox,
      outbox,
      grants,
      received: agent.received(),
      own_images: (await agent.ownImages()).map((i) => i.image_id),
    };
  }

  /** Signs every agent out and stops. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await Promise.allSettled(
      [...this.agents.values()].map(async (hosted) => {
        if (hosted.transition) await hosted.transition;
        if (hosted.agent) await this.signOut(hosted);
      }),
    );
  }

  /** Serves the control API on `<dir>/control.sock` until stopped. */
  serve(): Promise<void> {
    const path = join(this.dir, CONTROL_SOCKET);
    rmSync(path, { force: true });
    const server = createServer((request, response) => {
      this.handle(request, response).catch((err: unknown) => {
        const status = err instanceof CloudP2PError && err.exitCode === ExitCode.usage ? 400 : 500;
        send(response, status, { error: { code: 'control_error', message: errorMessage(err) } });
      });
    });
    server.maxConnections = 256;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        chmodSync(path, 0o600);
        this.logger.info('control socket ready', { path, agents: this.agents.size });
        resolve();
      });
      const shutdown = (): void => {
        void this.stop().finally(() => {
          server.close();
          rmSync(path, { force: true });
          process.exit(0);
        });
      };
      process.once('SIGTERM', shutdown);
      process.once('SIGINT', shutdown);
      this.shutdown = shutdown;
    });
  }

  private shutdown: () => void = () => undefined;

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://control');
    const route = `${request.method} ${url.pathname}`;
    if (route === 'GET /status') return send(response, 200, this.status());
    if (route === 'GET /events') {
      const after = Number(url.searchParams.get('after') ?? 0);
      const wait = Number(url.searchParams.get('wait_ms') ?? 0);
      return send(response, 200, await this.eventsAfter(after || 0, wait || 0));
    }
    if (route === 'POST /op') {
      const op = validateOp(JSON.parse(await readBody(request)));
      return send(response, 200, await this.execute(op));
    }
    if (route === 'POST /snapshot') {
      const { agent } = JSON.parse(await readBody(request)) as { agent: string };
      return send(response, 200, await this.snapshot(agent));
    }
    if (route === 'POST /stop') {
      send(response, 202, { stopping: true });
      this.shutdown();
      return;
    }
    send(response, 404, { error: { code: 'not_found', message: `no route ${route}` } });
  }
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_CONTROL_BODY_BYTES)
      throw new CloudP2PError(
        'body_too_large',
        `control request over ${MAX_CONTROL_BODY_BYTES} bytes`,
      );
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function round1(v: number): number {
  return Math.round(v * 10) / 10;
}

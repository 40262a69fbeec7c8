/**
 * Running the user's agent: `peer start` (foreground), `peer login` (background), `peer logout`,
 * and `peer register`. Imported only when one of these runs: it needs the whole agent.
 */
import { spawn } from 'node:child_process';
import { closeSync, fchmodSync, openSync } from 'node:fs';
import { PeerAgent } from '../../../peer/agent.js';
import { findRunningAgent, type ApiAgentClient } from '../../../peer/api-client.js';
import type { AwayItem } from '../../../peer/api-types.js';
import { PeerApiServer } from '../../../peer/api-server.js';
import { PRIVATE_FILE_MODE, resolveDataDir } from '../../../peer/data-dir.js';
import { CloudP2PError, ExitCode } from '../../../util/errors.js';
import { createLogger } from '../../../util/log.js';
import { packagePath } from '../../../util/package-info.js';
import { logLinesSince, logSize } from './log-tail.js';
import { resolveServers, serversOverride } from '../../servers.js';
import { count } from '../../../util/words.js';
import { describeGrant, describeRequest } from './describe.js';
import { cloudTrustOption, openOneShotAgent, output, say, type GlobalOptions } from './session.js';

export interface StartOptions extends GlobalOptions {
  listen: string;
  advertise?: string;
  apiPort: number;
}

export async function runStart(options: StartOptions): Promise<void> {
  const dataDir = resolveDataDir(options);
  const identity = dataDir.readIdentity();
  const servers = serversOverride(options);
  const logger = createLogger(`peer/${identity.username}`);
  const agent = PeerAgent.open({
    dataDir,
    mode: 'running',
    listenHost: options.listen,
    ...(options.advertise ? { advertiseHost: options.advertise } : {}),
    ...(servers ? { servers } : {}),
    ...(await cloudTrustOption(options)),
    logger,
  });
  await agent.start();
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));
  let stopping = false;
  const api = new PeerApiServer({
    agent,
    logger,
    port: options.apiPort,
    page: true,
    onShutdown: () => void shutdown('asked to stop (peer logout)'),
  });
  const shutdown = async (why: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    say(`${why}: signing out and stopping`);
    await api.close();
    await agent.stop(why);
    finish();
  };
  process.once('SIGINT', () => void shutdown('Ctrl-C'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  let endpoint;
  try {
    endpoint = await api.listen();
  } catch (err) {
    await agent.stop('API failed');
    throw err;
  }
  const p2p = agent.p2pAddress;
  dataDir.writeAgentInfo({
    pid: process.pid,
    api: { host: endpoint.host, port: endpoint.port },
    token: endpoint.token,
    p2p,
    started_at_ms: Date.now(),
  });
  say(`${identity.username} is online (user id ${identity.user_id})`);
  say(`  peers reach this agent at ${options.advertise ?? options.listen}:${p2p?.port ?? '?'}`);
  say(
    `  local API: http://${endpoint.host}:${endpoint.port}/api (token in ${dataDir.agentInfoPath})`,
  );
  say('  Ctrl-C signs out and stops');
  agent.events.on((event) => {
    switch (event.type) {
      case 'request-received':
        say(
          `request: ${describeRequest(event.request)}  (cloudp2p peer accept ${event.request.request_id})`,
        );
        break;
      case 'request-answered':
        say(`your request ${event.request.request_id} was ${event.request.status}`);
        break;
      case 'image-received':
        say(`received ${event.owner}/${event.image_id}: ${count(event.views_left, 'view')}`);
        break;
      case 'rights-changed':
        say(
          `${event.owner}/${event.image_id} now allows ${event.revoked ? 'no views (revoked)' : count(event.views_left, 'more view')}`,
        );
        break;
      case 'grant-changed':
        say(`grant: ${describeGrant(event.grant)}`);
        break;
      case 'status':
        say(event.online ? 'directory reachable: online' : 'directory unreachable: retrying');
        break;
      case 'signed-in':
        for (const line of describeAway(event.away)) say(line);
        break;
      default:
        break;
    }
  });
  await done;
}

/** How long `peer login` waits for the sign-in's catch-up to say what changed meanwhile. */
const AWAY_WAIT_MS = 10_000;

/** "While you were away" in lines. */
function describeAway(away: readonly AwayItem[]): string[] {
  if (away.length === 0) return ['nothing changed for you while you were away'];
  return [
    `while you were away (${count(away.length, 'change')}, applied now):`,
    ...away.map((item) => `  ${item.text}`),
  ];
}

/** What the agent's sign-in applied, once it has caught up (null: not by `deadline_ms`). */
async function awayOf(agent: ApiAgentClient, deadline_ms: number): Promise<AwayItem[] | null> {
  for (;;) {
    // Each status call gets only the time left, so the wait never passes the deadline much.
    const left_ms = Math.max(500, deadline_ms - Date.now());
    const status = await agent.status(left_ms).catch(() => null);
    if (status?.away) return status.away;
    if (Date.now() >= deadline_ms) return null;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** `peer login`: starts the agent in the background and waits until it is online. */
export async function runLogin(options: StartOptions): Promise<void> {
  const dataDir = resolveDataDir(options);
  const identity = dataDir.readIdentity();
  if (await findRunningAgent(dataDir)) {
    say(`${identity.username} is already signed in (an agent runs for ${dataDir.root})`);
    return;
  }
  const logPath = dataDir.agentLogPath;
  const args = [
    packagePath('dist', 'cli', 'main.js'),
    'peer',
    '--data-dir',
    dataDir.root,
    'start',
    '--listen',
    options.listen,
    '--api-port',
    String(options.apiPort),
  ];
  if (options.advertise) args.push('--advertise', options.advertise);
  if (options.servers) args.splice(4, 0, '--servers', options.servers);
  if (options.cloudCa) args.splice(4, 0, '--cloud-ca', options.cloudCa);
  if (options.cloudFingerprint) args.splice(4, 0, '--cloud-fingerprint', options.cloudFingerprint);
  // Checked here too, so a wrong file or fingerprint is named at once (not in the log).
  await cloudTrustOption(options);
  // The log names images, users and requests: private like the rest of the data directory.
  const log = openSync(logPath, 'a', PRIVATE_FILE_MODE);
  fchmodSync(log, PRIVATE_FILE_MODE);
  const logStart = logSize(logPath); // earlier runs' lines stay in the file: show only this one's
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (exited !== undefined) break;
    const running = await findRunningAgent(dataDir);
    if (running) {
      child.unref();
      const status = await running.status();
      say(
        `${identity.username} signed in; the agent runs in the background (pid ${child.pid}), peers reach it on port ${status.p2p?.port ?? '?'}`,
      );
      say(`  log: ${logPath}   stop it with: cloudp2p peer logout`);
      // The sign-in catches up with the directory right after it: say what that applied.
      const away = await awayOf(running, Math.min(deadline, Date.now() + AWAY_WAIT_MS));
      for (const line of away === null
        ? [
            'still catching up with the directory: `cloudp2p peer inbox` and `peer images` show what changed',
          ]
        : describeAway(away))
        say(line);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  if (exited === undefined) child.kill('SIGTERM');
  const tail = logLinesSince(logPath, logStart, 5).join('\n  ');
  throw new CloudP2PError(
    'login_failed',
    `the agent did not come online${tail ? `:\n  ${tail}` : ''}`,
    ExitCode.unavailable,
  );
}

export async function runLogout(options: GlobalOptions): Promise<void> {
  const dataDir = resolveDataDir(options);
  const identity = dataDir.readIdentity();
  const running = await findRunningAgent(dataDir);
  if (running) {
    await running.shutdown();
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && dataDir.readAgentInfo())
      await new Promise((r) => setTimeout(r, 100));
    say(`${identity.username} signed out; the agent stopped`);
    return;
  }
  // No agent: still tell the directory (e.g. after a crash, before the presence TTL).
  const agent = await openOneShotAgent(options, dataDir, identity.username);
  try {
    await agent.signOut();
  } finally {
    await agent.stop();
  }
  say(`${identity.username} signed out (no agent was running)`);
}

export async function runRegister(username: string, options: GlobalOptions): Promise<void> {
  const dataDir =
    options.dataDir || process.env.CLOUDP2P_HOME
      ? resolveDataDir(options)
      : resolveDataDir({ user: username });
  const { servers, clusterId } = resolveServers(
    options.servers === undefined ? {} : { servers: options.servers },
  );
  const user = await PeerAgent.register({
    dataDir,
    username,
    servers,
    clusterId,
    ...(await cloudTrustOption(options)),
  });
  output(options, user, () => {
    say(`registered ${user.username}: user id ${user.user_id}`);
    say(`  key and settings in ${user.data_dir} (keep identity.json private)`);
    say(`  next: cloudp2p peer login${options.dataDir ? ` --data-dir ${options.dataDir}` : ''}`);
  });
}

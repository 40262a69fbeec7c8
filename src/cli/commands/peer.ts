/**
 * `cloudp2p peer …`: the user's side of the product, one subcommand per use case (docs/SHARING.md).
 * Commands talk to the user's running agent (`peer start` / `peer login`) through its local API;
 * when none runs they run one-shot in this process and say what that means (images can only be
 * received by a running agent).
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { PeerAgent } from '../../peer/agent.js';
import { findRunningAgent } from '../../peer/api-client.js';
import type { GrantView, ReceivedView, RequestView, ViewReason } from '../../peer/api-types.js';
import { PeerApiServer } from '../../peer/api-server.js';
import { readFileLimited, resolveDataDir, writeFileAtomic } from '../../peer/data-dir.js';
import { localOps, type AgentOps } from '../../peer/ops.js';
import {
  PEER_IMAGE_ID_PATTERN,
  PEER_LIMITS,
  PEER_USERNAME_PATTERN,
  USER_ID_PATTERN,
} from '../../protocol/peer-protocol.js';
import type { Endpoint } from '../../transport/endpoint.js';
import { CloudP2PError, ExitCode, UsageError } from '../../util/errors.js';
import { createLogger } from '../../util/log.js';
import { packagePath } from '../../util/package-info.js';
import { resolveServers } from './encrypt.js';
import { registerPeerUiCommand } from './peer-ui.js';

interface GlobalOptions {
  dataDir?: string;
  user?: string;
  servers?: string;
  json?: boolean;
}

const say = (line: string): void => void process.stdout.write(`${line}\n`);
const note = (line: string): void => void process.stderr.write(`${line}\n`);

function parseUsername(value: string): string {
  if (!PEER_USERNAME_PATTERN.test(value))
    throw new InvalidArgumentError('expected 3-32 of a-z 0-9 _ -, starting with a letter');
  return value;
}

function parseImageId(value: string): string {
  if (!PEER_IMAGE_ID_PATTERN.test(value))
    throw new InvalidArgumentError('expected an image id: 1-64 of a-z 0-9 _ -');
  return value;
}

function parseRequestId(value: string): string {
  if (!USER_ID_PATTERN.test(value))
    throw new InvalidArgumentError('expected a request id (a lowercase UUID, see `peer inbox`)');
  return value;
}

function parseCount(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    return n;
  };
}

/** `owner/image_id`. */
function parseImageRef(value: string): { owner: string; imageId: string } {
  const [owner, imageId, ...rest] = value.split('/');
  if (
    rest.length > 0 ||
    !owner ||
    !imageId ||
    !PEER_USERNAME_PATTERN.test(owner) ||
    !PEER_IMAGE_ID_PATTERN.test(imageId)
  )
    throw new InvalidArgumentError('expected <owner>/<image_id>, e.g. alice/i3k9x0p2q7mz');
  return { owner, imageId };
}

function serversOverride(options: GlobalOptions): Endpoint[] | undefined {
  if (options.servers !== undefined || process.env.CLOUDP2P_SERVERS)
    return resolveServers({
      ...(options.servers === undefined ? {} : { servers: options.servers }),
    }).servers;
  return undefined;
}

function quietLogger(username: string) {
  const level = process.env.LOG_LEVEL ? undefined : ('error' as const);
  return createLogger(`peer/${username}`, level ? { level } : {});
}

/** Runs `task` against the running agent, or one-shot in this process. */
async function withAgent<T>(
  options: GlobalOptions,
  task: (ops: AgentOps, mode: 'running' | 'one-shot') => Promise<T>,
  oneShotNote?: string,
): Promise<T> {
  const dataDir = resolveDataDir(options);
  const running = await findRunningAgent(dataDir);
  if (running) return task(running, 'running');
  const identity = dataDir.readIdentity();
  if (oneShotNote && !options.json)
    note(`(no agent is running for ${identity.username}: ${oneShotNote})`);
  const servers = serversOverride(options);
  const agent = PeerAgent.open({
    dataDir,
    mode: 'one-shot',
    ...(servers ? { servers } : {}),
    logger: quietLogger(identity.username),
  });
  try {
    return await task(localOps(agent), 'one-shot');
  } finally {
    await agent.stop('one-shot command done');
  }
}

function output(options: GlobalOptions, value: unknown, human: () => void): void {
  if (options.json) say(JSON.stringify(value, null, 2));
  else human();
}

function describeRequest(r: RequestView): string {
  const what = r.kind === 'more_views' ? `${r.views} more views` : `${r.views} views`;
  return `${r.request_id}  ${r.requester} asks ${r.owner} for ${what} of ${r.image_id}  [${r.status}]`;
}

function describeGrant(g: GrantView): string {
  const state = g.revoked ? 'revoked' : `${g.quota} views`;
  const delivery = g.problem
    ? `  (pending: ${g.problem})`
    : g.delivery === 'pending'
      ? '  (pending: waits for the viewer to come online)'
      : '';
  return `${g.image_id} -> ${g.viewer}: ${state}, version ${g.version}${delivery}`;
}

function describeReceived(r: ReceivedView): string {
  const state = {
    viewable: `${r.views_left} of ${r.quota} views left`,
    used_up: `no views left (${r.quota} used)`,
    revoked: 'access revoked',
    waiting_for_copy: `${r.views_left} views granted; the copy arrives when ${r.owner} is online`,
  }[r.state];
  return `${r.owner}/${r.image_id}: ${state}`;
}

const DENIED_REASONS: ReadonlySet<ViewReason> = new Set<ViewReason>([
  'quota_used',
  'revoked',
  'not_named',
  'tampered',
  'wrong_owner_key',
  'not_a_copy',
  'no_copy',
]);

// ---- Running the agent ----------------------------------------------------------------------

interface StartOptions extends GlobalOptions {
  listen: string;
  advertise?: string;
  apiPort: number;
}

async function runStart(options: StartOptions): Promise<void> {
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
        say(`received ${event.owner}/${event.image_id}: ${event.views_left} views`);
        break;
      case 'rights-changed':
        say(
          `${event.owner}/${event.image_id} now allows ${event.revoked ? 'no views (revoked)' : `${event.views_left} more views`}`,
        );
        break;
      case 'grant-changed':
        say(`grant: ${describeGrant(event.grant)}`);
        break;
      case 'status':
        say(event.online ? 'directory reachable: online' : 'directory unreachable: retrying');
        break;
      default:
        break;
    }
  });
  await done;
}

/** `peer login`: starts the agent in the background and waits until it is online. */
async function runLogin(options: StartOptions): Promise<void> {
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
  const log = openSync(logPath, 'a');
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
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  if (exited === undefined) child.kill('SIGTERM');
  const tail = existsSync(logPath)
    ? readFileSync(logPath, 'utf8').split('\n').filter(Boolean).slice(-5).join('\n  ')
    : '';
  throw new CloudP2PError(
    'login_failed',
    `the agent did not come online${tail ? `:\n  ${tail}` : ''}`,
    ExitCode.unavailable,
  );
}

async function runLogout(options: GlobalOptions): Promise<void> {
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
  const servers = serversOverride(options);
  const agent = PeerAgent.open({
    dataDir,
    mode: 'one-shot',
    ...(servers ? { servers } : {}),
    logger: quietLogger(identity.username),
  });
  try {
    await agent.signOut();
  } finally {
    await agent.stop();
  }
  say(`${identity.username} signed out (no agent was running)`);
}

// ---- Registration ------------------------------------------------------------------------------

async function runRegister(username: string, options: GlobalOptions): Promise<void> {
  const dataDir =
    options.dataDir || process.env.CLOUDP2P_HOME
      ? resolveDataDir(options)
      : resolveDataDir({ user: username });
  const { servers, clusterId } = resolveServers(
    options.servers === undefined ? {} : { servers: options.servers },
  );
  const user = await PeerAgent.register({ dataDir, username, servers, clusterId });
  output(options, user, () => {
    say(`registered ${user.username}: user id ${user.user_id}`);
    say(`  key and settings in ${user.data_dir} (keep identity.json private)`);
    say(`  next: cloudp2p peer login${options.dataDir ? ` --data-dir ${options.dataDir}` : ''}`);
  });
}

// ---- Commands --------------------------------------------------------------------------------

export function registerPeerCommand(program: Command): void {
  const peer = program
    .command('peer')
    .description('share images with view limits: your agent, requests, grants and viewing')
    .option(
      '-d, --data-dir <dir>',
      'your data directory (default: $CLOUDP2P_HOME or ~/.cloudp2p/<user>)',
    )
    .option('-u, --user <name>', 'use ~/.cloudp2p/<name> as the data directory')
    .option(
      '--servers <list>',
      'cloud server addresses, comma-separated (default: saved at register, $CLOUDP2P_SERVERS, or the local cloud)',
    )
    .option('--json', 'print JSON instead of text')
    .addHelpText(
      'after',
      '\nExit codes: 0 ok, 2 usage, 3 bad input or unknown image/user, 5 damaged file, 7 access refused (default image shown), 8 cloud, directory or peer unreachable.',
    );
  const globals = (command: Command): GlobalOptions => command.optsWithGlobals<GlobalOptions>();

  peer
    .command('register')
    .description('use case 1: create your key and register a username (globally unique id)')
    .argument('<username>', '3-32 of a-z 0-9 _ -, starting with a letter', parseUsername)
    .action(async (username: string, _o, command: Command) =>
      runRegister(username, globals(command)),
    );

  const startOptions = (command: Command): Command =>
    command
      .option('--listen <host>', 'address the P2P listener binds to', '127.0.0.1')
      .option('--advertise <host>', 'address other users reach you at (default: --listen)')
      .option('--api-port <port>', 'local API port (0: any free port)', parseCount(0, 65_535), 0);

  startOptions(
    peer
      .command('start')
      .description('use case 2: run your agent in the foreground (signs in; Ctrl-C signs out)'),
  ).action(async (_o, command: Command) => runStart(globals(command) as StartOptions));

  startOptions(
    peer
      .command('login')
      .description('use case 2: sign in by starting your agent in the background'),
  ).action(async (_o, command: Command) => runLogin(globals(command) as StartOptions));

  peer
    .command('logout')
    .description('use case 10: sign out and stop your agent')
    .action(async (_o, command: Command) => runLogout(globals(command)));

  peer
    .command('status')
    .description('who you are, whether your agent runs, what waits')
    .action(async (_o, command: Command) => {
      const options = globals(command);
      await withAgent(options, async (ops) => {
        const status = await ops.status();
        output(options, status, () => {
          say(
            `${status.username} (${status.user_id}): ${status.mode === 'running' ? (status.online ? 'online' : 'agent running, directory unreachable') : 'no agent running (offline)'}`,
          );
          if (status.p2p) say(`  peers reach you at ${status.p2p.host}:${status.p2p.port}`);
          say(
            `  ${status.counts.own_images} own images, ${status.counts.received} received, ${status.counts.copies_waiting_for_delivery} copies or updates waiting for viewers`,
          );
          say(`  data: ${status.data_dir}; cloud: ${status.servers.join(', ')}`);
        });
      });
    });

  peer
    .command('encrypt')
    .description('use case 3: hide an image through the cloud and offer it to others')
    .argument('<image>', 'PNG or JPEG file (at most 12 MiB)')
    .option('-t, --title <title>', 'title others see (default: the file name)')
    .option('-o, --out <file>', 'also write the encrypted PNG here')
    .action(async (file: string, o: { title?: string; out?: string }, command: Command) => {
      const options = globals(command);
      const bytes = readFileLimited(file, 12 * 1024 * 1024, 'image');
      const title =
        o.title ??
        basename(file)
          .replace(/\p{Cc}/gu, '')
          .slice(0, 200);
      await withAgent(options, async (ops) => {
        if (!options.json)
          note(`encrypting ${basename(file)} (${bytes.length} bytes) through the cloud`);
        const result = await ops.encrypt(bytes, title, (step) => {
          if (!options.json) note(`  ${step}`);
        });
        if (o.out) writeFileAtomic(o.out, await ops.ownStego(result.image.image_id));
        output(options, result, () => {
          say(
            `image ${result.image.image_id} "${result.image.title}": encrypted by server ${result.server_id} in ${result.latency_ms} ms (${result.stego_size_bytes} bytes)${result.image.offered ? ', offered to others' : ''}`,
          );
          if (o.out) say(`  wrote ${o.out}`);
        });
      });
    });

  peer
    .command('peers')
    .description('use case 4: users online now and the images they offer')
    .action(async (_o, command: Command) => {
      const options = globals(command);
      await withAgent(options, async (ops) => {
        const peers = await ops.peers();
        output(options, peers, () => {
          if (peers.length === 0) say('nobody else is online');
          for (const p of peers) {
            say(`${p.username}  (${p.address}:${p.port})`);
            if (p.images.length === 0) say('  offers nothing');
            for (const image of p.images)
              say(
                `  ${image.image_id}  "${image.title}"  ${image.width}x${image.height} ${image.media_type} ${image.size_bytes} bytes`,
              );
          }
        });
      });
    });

  peer
    .command('previews')
    .description("use case 4: fetch a user's low-resolution previews from their agent (P2P)")
    .argument('<user>', 'whose previews', parseUsername)
    .option('-o, --out <dir>', 'folder for the preview files', '.')
    .action(async (user: string, o: { out: string }, command: Command) => {
      const options = globals(command);
      await withAgent(options, async (ops) => {
        const previews = await ops.previews(user);
        const written: Array<{ image_id: string; title: string; path: string }> = [];
        for (const preview of previews) {
          const path = join(o.out, `${user}-${preview.image_id}.preview.jpg`);
          writeFileAtomic(path, await ops.preview(user, preview.image_id));
          written.push({ image_id: preview.image_id, title: preview.title, path });
        }
        output(options, written, () => {
          if (written.length === 0) say(`${user} offers no images`);
          for (const w of written) say(`${w.image_id}  "${w.title}"  -> ${w.path}`);
        });
      });
    });

  peer
    .command('request')
    .description('use case 5: ask a user for an image with a number of views')
    .argument('<user>', 'the owner', parseUsername)
    .argument('<image_id>', 'the image (see `peer peers`)', parseImageId)
    .requiredOption('--views <n>', 'views asked for (1-10000)', parseCount(1, 10_000))
    .action(async (user: string, imageId: string, o: { views: number }, command: Command) => {
      const options = globals(command);
      await withAgent(
        options,
        async (ops) => {
          const created = await ops.request(user, imageId, o.views);
          output(options, created, () => {
            say(
              `request ${created.request.request_id} sent: ${o.views} views of ${user}/${imageId}`,
            );
            say(
              created.owner_notified
                ? `  ${user}'s agent was told at once`
                : `  ${user} is offline: the request waits in the directory until they sign in`,
            );
          });
        },
        'the copy can only be received by a running agent: `cloudp2p peer login`',
      );
    });

  peer
    .command('more-views')
    .description('use case 8: ask the owner for more views of an image you received')
    .argument('<owner/image_id>', 'the image', parseImageRef)
    .requiredOption('--views <n>', 'extra views (1-10000)', parseCount(1, 10_000))
    .action(
      async (ref: { owner: string; imageId: string }, o: { views: number }, command: Command) => {
        const options = globals(command);
        await withAgent(options, async (ops) => {
          const created = await ops.request(ref.owner, ref.imageId, o.views);
          output(options, created, () => {
            say(
              `asked ${ref.owner} for ${o.views} more views of ${ref.imageId} (request ${created.request.request_id}, ${created.request.kind})`,
            );
            if (!created.owner_notified)
              say(`  ${ref.owner} is offline: it waits until they sign in`);
          });
        });
      },
    );

  peer
    .command('inbox')
    .description('use case 6: requests from others (pending unless --all); --sent for yours')
    .option('--all', 'include answered requests')
    .option('--sent', 'your own requests instead')
    .action(async (o: { all?: boolean; sent?: boolean }, command: Command) => {
      const options = globals(command);
      await withAgent(options, async (ops) => {
        const requests = await ops.requests(
          o.sent ? 'requester' : 'owner',
          o.all ? undefined : 'pending',
        );
        output(options, requests, () => {
          if (requests.length === 0) say(o.sent ? 'you have no requests' : 'no pending requests');
          for (const r of requests) say(describeRequest(r));
        });
      });
    });

  for (const decision of ['accept', 'reject'] as const) {
    peer
      .command(decision)
      .description(`use case 6: ${decision} a request (see \`peer inbox\`)`)
      .argument('<request_id>', 'the request id', parseRequestId)
      .action(async (requestId: string, _o, command: Command) => {
        const options = globals(command);
        await withAgent(
          options,
          async (ops) => {
            const result = await ops.answer(
              requestId,
              decision === 'accept' ? 'accepted' : 'rejected',
            );
            output(options, result, () => {
              say(
                `${result.request.status} ${result.request.requester}'s request for ${result.request.image_id}`,
              );
              if (result.grant) say(`  ${describeGrant(result.grant)}`);
            });
          },
          decision === 'accept'
            ? 'the copy goes to the viewer now if online, else when both agents are online'
            : undefined,
        );
      });
  }

  peer
    .command('images')
    .description('use case 7: images you received, with views left (--own: your own images)')
    .option('--own', 'your own images and who may view them')
    .action(async (o: { own?: boolean }, command: Command) => {
      const options = globals(command);
      await withAgent(options, async (ops) => {
        if (o.own) {
          const images = await ops.ownImages();
          output(options, images, () => {
            if (images.length === 0) say('you have no images yet: cloudp2p peer encrypt <image>');
            for (const image of images) {
              say(
                `${image.image_id}  "${image.title}"  ${image.width}x${image.height}${image.offered ? '' : '  (not offered yet)'}`,
              );
              for (const g of image.grants) say(`  ${describeGrant(g)}`);
            }
          });
          return;
        }
        const received = await ops.received();
        output(options, received, () => {
          if (received.length === 0) say('you have received no images');
          for (const r of received) say(describeReceived(r));
        });
      });
    });

  peer
    .command('view')
    .description('use case 7: write an image you may view to a file (uses one view)')
    .argument('[owner/image_id]', 'the image (yours or received)', parseImageRef)
    .option('--file <png>', 'view a copy held as a file instead')
    .option('-o, --out <file>', 'where to write what you may see')
    .action(
      async (
        ref: { owner: string; imageId: string } | undefined,
        o: { file?: string; out?: string },
        command: Command,
      ) => {
        const options = globals(command);
        if ((ref === undefined) === (o.file === undefined))
          throw new UsageError('give either <owner/image_id> or --file <png>');
        await withAgent(options, async (ops) => {
          const outcome = ref
            ? await ops.view(ref.owner, ref.imageId)
            : await ops.viewFile(
                readFileLimited(o.file as string, PEER_LIMITS.max_copy_bytes, 'image'),
              );
          const record = outcome.record;
          const ext = record.media_type === 'image/png' ? 'png' : 'jpg';
          const out =
            o.out ??
            (ref
              ? `${ref.owner}-${ref.imageId}.${ext}`
              : `${basename(o.file as string).replace(/\.[^.]+$/, '')}.view.${ext}`);
          writeFileAtomic(out, outcome.image);
          output(options, { ...record, out }, () => {
            if (record.verdict === 'shown') say(`${record.message}; wrote ${out}`);
            else say(`default image written to ${out}`);
          });
          if (record.verdict === 'default') {
            note(`cloudp2p: ${record.message}`);
            process.exitCode = DENIED_REASONS.has(record.reason)
              ? ExitCode.denied
              : ExitCode.corrupted;
          }
        });
      },
    );

  peer
    .command('grants')
    .description('use case 9: the views you granted, and what still waits for offline viewers')
    .action(async (_o, command: Command) => {
      const options = globals(command);
      await withAgent(options, async (ops) => {
        const grants = await ops.grants();
        output(options, grants, () => {
          if (grants.length === 0) say('you granted nothing yet');
          for (const g of grants) say(describeGrant(g));
        });
      });
    });

  const grantAction =
    (verb: string) => async (imageId: string, user: string, quota: number, command: Command) => {
      const options = globals(command);
      await withAgent(
        options,
        async (ops) => {
          const grant = await ops.setGrant(imageId, user, quota);
          output(options, grant, () => say(`${verb}: ${describeGrant(grant)}`));
        },
        'a viewer who is online gets the change now; an offline one at sign-in',
      );
    };
  peer
    .command('grant')
    .description('use case 9: let a user view your image N times in total (they get a copy)')
    .argument('<image_id>', 'your image', parseImageId)
    .argument('<user>', 'the viewer', parseUsername)
    .requiredOption('--views <n>', 'total views (0-1000000)', parseCount(0, 1_000_000))
    .action(async (imageId: string, user: string, o: { views: number }, command: Command) =>
      grantAction('granted')(imageId, user, o.views, command),
    );
  peer
    .command('set-quota')
    .description("use case 9: change a viewer's total views (also while they are offline)")
    .argument('<image_id>', 'your image', parseImageId)
    .argument('<user>', 'the viewer', parseUsername)
    .argument(
      '<views>',
      'total views (0-1000000; views already used count)',
      parseCount(0, 1_000_000),
    )
    .action(async (imageId: string, user: string, views: number, _o, command: Command) =>
      grantAction('quota set')(imageId, user, views, command),
    );
  peer
    .command('revoke')
    .description("use case 9: remove a viewer's access (also while they are offline)")
    .argument('<image_id>', 'your image', parseImageId)
    .argument('<user>', 'the viewer', parseUsername)
    .action(async (imageId: string, user: string, _o, command: Command) => {
      const options = globals(command);
      await withAgent(
        options,
        async (ops) => {
          const grant = await ops.revoke(imageId, user);
          output(options, grant, () => say(`revoked: ${describeGrant(grant)}`));
        },
        'a viewer who is online gets the change now; an offline one at sign-in',
      );
    });

  registerPeerUiCommand(peer);

  peer
    .command('sync')
    .description('rebuild your permissions from the directory and catch up on what waits')
    .action(async (_o, command: Command) => {
      const options = globals(command);
      await withAgent(options, async (ops) => {
        const report = await ops.sync();
        output(options, report, () =>
          say(
            `synced: ${report.grants_as_owner} grants given, ${report.grants_as_viewer} received, ${report.copies_built} copies made, ${report.copies_fetched} fetched, ${report.updates_applied} updates applied, ${report.images_offered} images offered again`,
          ),
        );
      });
    });
}

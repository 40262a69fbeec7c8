/**
 * `cloudp2p peer ui`: opens the peer web page. It prints a one-time link (and opens it in a
 * browser when one can be started): for the `peer ui` program or agent already running for
 * this user, or else it starts the `peer ui` program (src/peer/ui-host.ts) in the foreground,
 * where the page registers, signs in and out with no further command.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { parseListenPort } from './peer/parse.js';
import { processAlive, resolveDataDir, type DataDir } from '../../peer/data-dir.js';
import { USERNAME_PATTERN, USERNAME_RULE } from '../../protocol/ids.js';
import { CloudP2PError, ExitCode, UsageError } from '../../util/errors.js';
import { createLogger } from '../../util/log.js';

interface UiOptions {
  dataDir?: string;
  user?: string;
  servers?: string;
  listen: string;
  advertise?: string;
  port: number;
  open: boolean;
}

const say = (line: string): void => void process.stdout.write(`${line}\n`);

/** The data directory, or null when nobody is registered yet (the page registers someone). */
function dataDirFor(options: UiOptions): DataDir | null {
  if (options.dataDir || process.env.CLOUDP2P_HOME || options.user) return resolveDataDir(options);
  const base = join(homedir(), '.cloudp2p');
  const registered = existsSync(base)
    ? readdirSync(base).filter((name) => existsSync(join(base, name, 'identity.json')))
    : [];
  return registered.length === 0 ? null : resolveDataDir(options); // several: says to pick one
}

/**
 * Starts the system's browser on `url` when there is one to start (a desktop session on
 * Linux, macOS, Windows); returns false otherwise. Never waits for it.
 */
function openInBrowser(url: string): boolean {
  let command: [string, string[]] | null = null;
  if (process.platform === 'darwin') command = ['open', [url]];
  else if (process.platform === 'win32') command = ['cmd', ['/c', 'start', '""', url]];
  else if (process.env.DISPLAY || process.env.WAYLAND_DISPLAY) command = ['xdg-open', [url]];
  if (!command) return false;
  try {
    const child = spawn(command[0], command[1], { detached: true, stdio: 'ignore' });
    child.on('error', () => undefined); // no such program: the printed link is enough
    child.unref();
    return true;
  } catch {
    return false;
  }
}

function showLink(url: string, who: string, open: boolean, ticketTtl_ms: number): void {
  const minutes = Math.round(ticketTtl_ms / 60_000);
  say(`cloudp2p peer app${who}: open this link (it works once, within ${minutes} minutes):`);
  say(`  ${url}`);
  if (open && openInBrowser(url)) say('  (asked your browser to open it)');
}

async function runUi(options: UiOptions): Promise<void> {
  // The page's host is most of the agent: imported only when this command runs.
  const [
    { PeerUiHost, readUiHostInfo, requestSignInUrl },
    { TICKET_TTL_MS, linkCommand },
    { resolveServers },
  ] = await Promise.all([
    import('../../peer/ui-host.js'),
    import('../../peer/ui-routes.js'),
    import('../servers.js'),
  ]);
  const dataDir = dataDirFor(options);
  if (dataDir) {
    // Already running for this user: a fresh link to it, nothing new started.
    const host = readUiHostInfo(dataDir);
    const agent = dataDir.readAgentInfo();
    const running = host ?? (agent && processAlive(agent.pid) ? agent.api : null);
    if (running) {
      const token = host?.token ?? agent?.token ?? '';
      const link = await requestSignInUrl({ port: running.port, token });
      if (link) {
        showLink(
          link.url,
          ` (already running, pid ${host?.pid ?? agent?.pid})`,
          options.open,
          TICKET_TTL_MS,
        );
        return;
      }
      if (!host)
        throw new CloudP2PError(
          'no_page',
          `an agent runs for ${dataDir.root} (pid ${agent?.pid}) but serves no page; stop it with \`cloudp2p peer logout\` and run \`cloudp2p peer ui\` again`,
          ExitCode.unavailable,
        );
    }
  }
  if (options.user && !USERNAME_PATTERN.test(options.user))
    throw new UsageError(`--user: ${USERNAME_RULE}`);
  const registration = resolveServers(
    options.servers === undefined ? {} : { servers: options.servers },
  );
  const overrides = options.servers !== undefined || process.env.CLOUDP2P_SERVERS;
  const identity = dataDir?.hasIdentity() ? dataDir.readIdentity() : null;
  const logger = createLogger('peer-ui');
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const host = new PeerUiHost({
    dataDir,
    baseDir: join(homedir(), '.cloudp2p'),
    ...(options.user ? { suggestedUsername: options.user } : {}),
    registration,
    ...(overrides ? { serversOverride: registration.servers } : {}),
    listenHost: options.listen,
    ...(options.advertise ? { advertiseHost: options.advertise } : {}),
    port: options.port,
    logger,
    onQuit: () => finish(),
    say,
    // A used link's page names this command, spelled as the user chose the data directory.
    linkCommand: linkCommand({ dataDir: options.dataDir, user: options.user }),
  });
  const { url } = await host.listen();
  process.once('SIGINT', () => void host.quit('Ctrl-C'));
  process.once('SIGTERM', () => void host.quit('SIGTERM'));
  showLink(
    host.signInUrl().url,
    identity ? ` for ${identity.username}` : '',
    options.open,
    TICKET_TTL_MS,
  );
  say(`  (page address ${url}; \`cloudp2p peer ui\` again prints a new link; Ctrl-C stops)`);
  await done;
  say('stopped');
}

/** Adds `peer ui` to the `peer` command (src/cli/commands/peer/index.ts). */
export function registerPeerUiCommand(peer: Command): void {
  peer
    .command('ui')
    .description(
      'open the web page: register, sign in, share and view images in a browser (prints a one-time link)',
    )
    .option('--port <port>', 'port of the page on 127.0.0.1 (0: any free port)', parseListenPort, 0)
    .option('--no-open', 'only print the link; do not start a browser')
    .option('--listen <host>', 'address the P2P listener binds to', '127.0.0.1')
    .option('--advertise <host>', 'address other users reach you at (default: --listen)')
    .action(async (_o, command: Command) => runUi(command.optsWithGlobals<UiOptions>()));
}

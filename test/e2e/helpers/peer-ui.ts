/**
 * Real `cloudp2p peer ui` processes for the browser tests: each runs the page and (once signed
 * in from the page) the user's agent, in its own data directory, against a test cloud. Needs
 * `npm run build` first (dist/cli/main.js and dist/web/pages).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { packagePath } from '../../../src/util/package-info.js';
import { DEADLINE } from '../../integration/helpers/cluster-fixture.js';

const CLI = packagePath('dist', 'cli', 'main.js');
/** The one-time link `peer ui` prints. */
const LINK = /(http:\/\/127\.0\.0\.1:\d+\/#ticket=[A-Za-z0-9_-]{24})/;

export interface PeerUiProcess {
  /** The first link it printed (opens the page once). */
  url: string;
  dataDir: string;
  /** Runs `cloudp2p peer ui` again for this data directory: it prints a fresh link. */
  newLink(): Promise<string>;
  /** Runs another `cloudp2p peer …` command for this user; resolves with its output. */
  cli(args: string[]): Promise<CommandResult>;
  /** SIGTERM (signs out), then SIGKILL if it lingers. */
  stop(): Promise<void>;
}

export interface PeerEnv {
  /** The cloud, "host:port,host:port,…" (CLOUDP2P_SERVERS). */
  servers: string;
  /** Where each `peer ui` process's output is kept. */
  logDir: string;
}

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(
  env: PeerEnv,
  dataDir: string,
  args: string[],
): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [CLI, 'peer', '--data-dir', dataDir, ...args], {
    env: { ...process.env, CLOUDP2P_SERVERS: env.servers, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  return { child, output: () => stdout };
}

/** Starts `cloudp2p peer ui --no-open` for `name` and waits for its link. */
export async function startPeerUi(
  name: string,
  root: string,
  env: PeerEnv,
  timeout_ms = DEADLINE.progress_ms,
): Promise<PeerUiProcess> {
  const dataDir = join(root, name);
  mkdirSync(env.logDir, { recursive: true });
  const { child, output } = run(env, dataDir, ['ui', '--no-open']);
  const log = createWriteStream(join(env.logDir, `peer-ui-${name}.log`));
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await waitForLink(child, output, timeout_ms, `peer ui for ${name}`);
  const cli = (args: string[]) => peerCommand(env, dataDir, args, timeout_ms);
  return {
    url,
    dataDir,
    newLink: async () => {
      const again = await cli(['ui', '--no-open']);
      const link = linkIn(again.stdout);
      if (again.code !== 0 || !link)
        throw new Error(`peer ui again: exit ${again.code}: ${again.stdout} ${again.stderr}`);
      return link;
    },
    cli,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Runs one `cloudp2p peer --data-dir <dataDir> …` command to its end. */
export function peerCommand(
  env: PeerEnv,
  dataDir: string,
  args: string[],
  timeout_ms = DEADLINE.progress_ms,
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const { child, output } = run(env, dataDir, args);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`cloudp2p peer ${args.join(' ')} timed out; stderr: ${stderr}`));
    }, timeout_ms);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: output(), stderr });
    });
  });
}

/** The one-time link in a command's output. */
export function linkIn(stdout: string): string | null {
  return LINK.exec(stdout)?.[1] ?? null;
}

function waitForLink(
  child: ChildProcess,
  output: () => string,
  timeout_ms: number,
  what: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const check = setInterval(() => {
      const match = LINK.exec(output());
      if (match) {
        done();
        resolve(match[1] as string);
      }
    }, 50);
    const timer = setTimeout(() => {
      done();
      child.kill('SIGKILL');
      reject(new Error(`${what} printed no link within ${timeout_ms} ms: ${output()}`));
    }, timeout_ms);
    const onExit = (code: number | null): void => {
      done();
      reject(new Error(`${what} exited (${code}) before printing a link: ${output()}`));
    };
    child.once('exit', onExit);
    function done(): void {
      clearInterval(check);
      clearTimeout(timer);
      child.removeListener('exit', onExit);
    }
  });
}

export function requirePeerBuild(): void {
  for (const built of [
    ['dist', 'cli', 'main.js'],
    ['dist', 'web', 'pages', 'peer', 'index.html'],
  ]) {
    if (!existsSync(packagePath(...built)))
      throw new Error(`${built.join('/')} is missing: run \`npm run build\` first`);
  }
}

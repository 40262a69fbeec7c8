/**
 * One MariaDB Galera node as a process we control: initialise its data directory, write its
 * my.cnf, start `mariadbd --defaults-file=…` (the first node of a new cluster with
 * `--wsrep-new-cluster`), wait until it is Synced, stop it, kill it (-9), start it again (it
 * catches up by IST, or by a full rsync SST when it was away too long), and report its `wsrep_*`
 * state. Used by the tests, the benchmark and `cloudp2p lab`; production nodes run under systemd
 * (docs/DEPLOY.md).
 *
 * Started as root, mariadbd runs as an unprivileged user (`mysql` by default) that owns the node's
 * folder: rsync state transfers run as the server's user and fail on file permissions otherwise.
 * A node started by another process (the lab driver that exited) can be controlled again with
 * `GaleraNode.attach`, which finds it by its pid file.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import {
  accessSync,
  chownSync,
  constants,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  closeSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createConnection } from 'mysql2/promise';
import {
  checkNodeConfig,
  DEBIAN_PROGRAMS,
  GALERA_PACKAGES_HINT,
  nodePaths,
  programsOf,
  renderInitSql,
  renderMyCnf,
  type GaleraNodeConfig,
  type GaleraPrograms,
} from './config.js';
import { PC_BOOTSTRAP_SQL, readWsrepState, isServing, type WsrepState } from './status.js';
import { processAlive } from '../../util/process.js';

export interface StartOptions {
  /** Start a new cluster from this node's data (`--wsrep-new-cluster`). Default false: join. */
  bootstrap?: boolean;
}

export interface WaitOptions {
  /** Give up after this long (default 180000: a full state transfer on a busy machine). */
  timeout_ms?: number;
  /** What to wait for; default: Synced in the primary component. */
  until?: (state: WsrepState) => boolean;
}

const POLL_MS = 200;
const PROBE_CONNECT_TIMEOUT_MS = 2000;
/** Nodes started by this process that should not outlive it (kill_on_exit). */
const ownedPids = new Set<number>();
let exitHookInstalled = false;

export class GaleraNode {
  readonly config: GaleraNodeConfig;
  readonly paths: ReturnType<typeof nodePaths>;
  private child: ChildProcess | undefined;
  private childExit: Promise<void> | undefined;
  private knownPid: number | undefined;

  constructor(
    config: GaleraNodeConfig,
    private readonly options: { kill_on_exit?: boolean } = {},
  ) {
    checkNodeConfig(config);
    this.config = config;
    this.paths = nodePaths(config.dir);
  }

  /** A node started earlier (possibly by another process), found by its pid file. */
  static attach(config: GaleraNodeConfig): GaleraNode {
    const node = new GaleraNode(config, { kill_on_exit: false });
    node.knownPid = readPidFile(node.paths.pid);
    return node;
  }

  get name(): string {
    return this.config.name;
  }

  /** host:port for SQL clients. */
  get sqlAddress(): string {
    return `${this.config.host}:${this.config.ports.sql}`;
  }

  /** The pid of mariadbd while it runs (for killing it from elsewhere). */
  get pid(): number | undefined {
    return this.running() ? (this.child?.pid ?? this.knownPid) : undefined;
  }

  running(): boolean {
    if (this.child) return this.child.exitCode === null && this.child.signalCode === null;
    return this.knownPid !== undefined && processAlive(this.knownPid);
  }

  isInitialized(): boolean {
    return existsSync(`${this.paths.data}/mysql`);
  }

  /**
   * Creates the system tables in an empty data directory (only the node that bootstraps a new
   * cluster needs this; joiners receive a copy by state transfer) and prepares the account that
   * the first start creates.
   */
  async initialize(): Promise<void> {
    const programs = programsOf(this.config);
    requireProgram(programs.install_db, 'mariadb-install-db');
    this.prepareFolder();
    if (this.isInitialized()) {
      throw new Error(`galera node ${this.name}: ${this.paths.data} is already initialised`);
    }
    const runAs = this.runAsUser();
    writeFileSync(this.paths.config, renderMyCnf(this.config, runAs));
    this.giveFolderToRunAsUser(); // mariadbd writes its error log and temp files here
    await runToCompletion(
      programs.install_db,
      [
        `--defaults-file=${this.paths.config}`,
        '--skip-test-db',
        '--auth-root-authentication-method=socket',
        ...(runAs ? [`--user=${runAs}`] : []),
      ],
      this.paths.install_log,
      `galera node ${this.name}: mariadb-install-db`,
    );
    writeFileSync(this.paths.init_sql, renderInitSql(this.config.account), { mode: 0o600 });
    this.giveFolderToRunAsUser();
  }

  /** Starts mariadbd; resolves once the process runs (use waitSynced to wait for service). */
  async start(options: StartOptions = {}): Promise<void> {
    if (this.running()) throw new Error(`galera node ${this.name} is already running`);
    const programs = programsOf(this.config);
    requireProgram(programs.mariadbd, 'mariadbd');
    requireProgram(programs.provider, 'the Galera library');
    this.prepareFolder();
    if (options.bootstrap && !this.isInitialized()) {
      throw new Error(
        `galera node ${this.name}: cannot bootstrap a cluster from an empty data directory; call initialize() first`,
      );
    }
    writeFileSync(this.paths.config, renderMyCnf(this.config, this.runAsUser()));
    this.giveFolderToRunAsUser();
    const args = [`--defaults-file=${this.paths.config}`];
    if (options.bootstrap) args.push('--wsrep-new-cluster');
    if (existsSync(this.paths.init_sql)) args.push(`--init-file=${this.paths.init_sql}`);
    const position = await this.recoverPositionAfterCrash();
    if (position) args.push(`--wsrep-start-position=${position}`);

    const prefix = this.config.command_prefix ?? [];
    const [command, ...rest] = [...prefix, programs.mariadbd, ...args] as [string, ...string[]];
    const out = openSync(`${this.config.dir}/mariadbd.out`, 'a');
    let child: ChildProcess;
    try {
      child = spawn(command, rest, { stdio: ['ignore', out, out], detached: true });
    } finally {
      closeSync(out);
    }
    this.child = child;
    this.knownPid = undefined;
    this.childExit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (err) =>
        reject(new Error(`galera node ${this.name}: cannot run ${command}: ${err.message}`)),
      );
    });
    child.unref();
    if (this.options.kill_on_exit !== false && child.pid !== undefined) {
      ownedPids.add(child.pid);
      installExitHook();
      void this.childExit.then(() => ownedPids.delete(child.pid as number));
    }
  }

  /** Waits until the node serves (Synced, primary) or `until` holds; fails if it exits. */
  async waitSynced(options: WaitOptions = {}): Promise<WsrepState> {
    const timeout_ms = options.timeout_ms ?? 180_000;
    const until = options.until ?? isServing;
    const deadline = performance.now() + timeout_ms;
    let last = 'no answer yet';
    for (;;) {
      if (!this.running()) {
        throw new Error(
          `galera node ${this.name} exited while starting; end of ${this.paths.error_log}:\n${this.errorLogTail()}`,
        );
      }
      try {
        const state = await this.state();
        if (until(state)) {
          if (isServing(state)) rmSync(this.paths.init_sql, { force: true });
          return state;
        }
        last = `${state.local_state || 'no state'}, ${state.cluster_status || 'no cluster'}, ${state.cluster_size} node(s)`;
      } catch (err) {
        last = err instanceof Error ? err.message : String(err);
      }
      if (performance.now() >= deadline) {
        throw new Error(
          `galera node ${this.name} did not reach the wanted state within ${timeout_ms} ms (last: ${last}); end of ${this.paths.error_log}:\n${this.errorLogTail()}`,
        );
      }
      await sleep(POLL_MS);
    }
  }

  /** The node's wsrep state, read over TCP with the cluster's account. */
  async state(): Promise<WsrepState> {
    return this.withConnection((connection) => readWsrepState(connection));
  }

  /**
   * After the other nodes are lost, makes this (most advanced) survivor a primary component on
   * its own, so it serves again; the others rejoin it when they come back.
   */
  async bootstrapPrimary(): Promise<void> {
    await this.withConnection((connection) => connection.query(PC_BOOTSTRAP_SQL));
  }

  /** Runs SQL on this node with the cluster's account. */
  async withConnection<T>(
    body: (connection: Awaited<ReturnType<typeof createConnection>>) => Promise<T>,
  ): Promise<T> {
    const connection = await createConnection({
      host: this.config.host,
      port: this.config.ports.sql,
      user: this.config.account.user,
      password: this.config.account.password,
      connectTimeout: PROBE_CONNECT_TIMEOUT_MS,
    });
    connection.on('error', () => undefined);
    try {
      return await body(connection);
    } finally {
      connection.destroy();
    }
  }

  /** Clean shutdown (SIGTERM); SIGKILL if it takes longer than `timeout_ms`. */
  async stop(timeout_ms = 60_000): Promise<void> {
    if (!this.running()) return;
    this.signal('SIGTERM');
    if (!(await this.waitExit(timeout_ms))) {
      this.signal('SIGKILL');
      await this.waitExit(10_000);
    }
  }

  /** kill -9: the node dies at once, as if its machine lost power. */
  async kill(): Promise<void> {
    if (!this.running()) return;
    this.signal('SIGKILL');
    if (!(await this.waitExit(10_000))) {
      throw new Error(`galera node ${this.name} did not die from SIGKILL within 10 s`);
    }
  }

  /** kill -9, then start again joining the cluster (it catches up by IST). */
  async restart(): Promise<void> {
    await this.kill();
    await this.start();
  }

  /** The last lines of the node's error log (for error messages). */
  errorLogTail(lines = 15): string {
    try {
      return readFileSync(this.paths.error_log, 'utf8')
        .trimEnd()
        .split('\n')
        .slice(-lines)
        .join('\n');
    } catch {
      return '(no error log)';
    }
  }

  /**
   * After a crash (kill -9, power loss) grastate.dat does not know the node's position, and
   * without it the node would need a full state transfer. `mariadbd --wsrep-recover` reads it from
   * InnoDB; passing it as --wsrep-start-position lets the node catch up by IST instead (what
   * Debian's galera_recovery does for systemd).
   */
  private async recoverPositionAfterCrash(): Promise<string | undefined> {
    if (!this.isInitialized() || !existsSync(this.paths.grastate)) return undefined;
    const grastate = readFileSync(this.paths.grastate, 'utf8');
    if (!/^seqno:\s*-1\s*$/m.test(grastate)) return undefined;
    rmSync(this.paths.recover_log, { force: true });
    await runToCompletion(
      programsOf(this.config).mariadbd,
      [
        `--defaults-file=${this.paths.config}`,
        '--wsrep-recover',
        `--log-error=${this.paths.recover_log}`,
      ],
      `${this.config.dir}/recover.out`,
      `galera node ${this.name}: mariadbd --wsrep-recover`,
    );
    this.giveFolderToRunAsUser();
    const log = existsSync(this.paths.recover_log)
      ? readFileSync(this.paths.recover_log, 'utf8')
      : '';
    const match = /WSREP: Recovered position:\s*([0-9a-f-]{36}:-?\d+)/.exec(log);
    return match?.[1];
  }

  private signal(signal: NodeJS.Signals): void {
    const pid = this.pid;
    if (pid === undefined) return;
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }

  private async waitExit(timeout_ms: number): Promise<boolean> {
    if (this.childExit) {
      const exited = await Promise.race([
        this.childExit.then(() => true),
        sleep(timeout_ms).then(() => false),
      ]);
      return exited;
    }
    const deadline = performance.now() + timeout_ms;
    while (this.running()) {
      if (performance.now() >= deadline) return false;
      await sleep(POLL_MS);
    }
    return true;
  }

  private prepareFolder(): void {
    mkdirSync(this.paths.data, { recursive: true });
    mkdirSync(this.paths.tmp, { recursive: true });
    const runAs = this.runAsUser();
    if (runAs) requireReachable(this.config.dir, runAs);
  }

  /** The OS user mariadbd runs as, when we are root; undefined otherwise (runs as us). */
  private runAsUser(): string | undefined {
    return process.getuid?.() === 0 ? (this.config.run_as ?? 'mysql') : undefined;
  }

  private giveFolderToRunAsUser(): void {
    const runAs = this.runAsUser();
    if (!runAs) return;
    const { uid, gid } = osUser(runAs);
    chownTree(this.config.dir, uid, gid);
  }
}

function readPidFile(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const pid of ownedPids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  });
}

/** Undefined when Galera can run here; otherwise which program is missing and how to install it. */
export function galeraProgramsMissing(
  programs: GaleraPrograms = DEBIAN_PROGRAMS,
): string | undefined {
  for (const [what, path] of [
    ['mariadbd', programs.mariadbd],
    ['mariadb-install-db', programs.install_db],
    ['the Galera library', programs.provider],
    ['rsync', '/usr/bin/rsync'],
  ] as const) {
    try {
      requireProgram(path, what);
    } catch (err) {
      return (err as Error).message;
    }
  }
  return undefined;
}

function requireProgram(path: string, what: string): void {
  try {
    accessSync(path, path.endsWith('.so') ? constants.R_OK : constants.X_OK);
  } catch {
    throw new Error(`${what} is missing (${path}); ${GALERA_PACKAGES_HINT}`);
  }
}

/** The OS user must be able to reach the node's folder through every parent folder. */
function requireReachable(dir: string, user: string): void {
  const { uid } = osUser(user);
  for (let parent = dirname(dir); ; parent = dirname(parent)) {
    const stat = statSync(parent);
    if (stat.uid !== uid && (stat.mode & 0o001) === 0) {
      throw new Error(
        `galera: mariadbd runs as ${user}, which cannot enter ${parent} (mode ${(stat.mode & 0o777).toString(8)}); make it traversable (chmod o+x) or put the node elsewhere`,
      );
    }
    if (parent === dirname(parent)) return;
  }
}

const userCache = new Map<string, { uid: number; gid: number }>();

function osUser(user: string): { uid: number; gid: number } {
  const cached = userCache.get(user);
  if (cached) return cached;
  try {
    const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
    const ids = { uid, gid };
    userCache.set(user, ids);
    return ids;
  } catch {
    throw new Error(
      `galera: there is no OS user ${user} to run mariadbd as; ${GALERA_PACKAGES_HINT}`,
    );
  }
}

function chownTree(path: string, uid: number, gid: number): void {
  const stat = lstatSync(path);
  if (stat.uid !== uid || stat.gid !== gid) chownSync(path, uid, gid);
  if (!stat.isDirectory()) return;
  for (const entry of readdirSync(path)) chownTree(`${path}/${entry}`, uid, gid);
}

/** Runs a program to completion with its output in `logPath`; rejects naming the log. */
function runToCompletion(
  command: string,
  args: readonly string[],
  logPath: string,
  what: string,
): Promise<void> {
  const out = openSync(logPath, 'w');
  return new Promise<void>((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', out, out] });
    closeSync(out);
    child.once('error', (err) => reject(new Error(`${what}: ${err.message}`)));
    child.once('exit', (code, signal) => {
      if (code === 0) return resolve();
      let tail = '';
      try {
        // The lines that say what went wrong, else the end of the log.
        const lines = readFileSync(logPath, 'utf8').trimEnd().split('\n');
        const errors = lines.filter((line) => /\b(ERROR|error:|errno|Can't)\b/i.test(line));
        tail = (errors.length > 0 ? errors : lines).slice(-10).join('\n');
      } catch {
        // No log.
      }
      reject(
        new Error(`${what} failed (${signal ?? `exit ${code}`}); end of ${logPath}:\n${tail}`),
      );
    });
  });
}

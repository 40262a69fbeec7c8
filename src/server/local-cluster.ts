/**
 * Runs a cloud of real server processes on this machine: `npm start`, the integration tests,
 * the cluster benchmark and the stress tool all use it. It writes configs (or uses given ones),
 * starts `cloudp2p server` processes, and can kill -9, pause (SIGSTOP/SIGCONT), restart and
 * stop them gracefully, and ask any of them for /status.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, writeFileSync, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CloudP2PError, ExitCode } from '../util/errors.js';
import { packagePath } from '../util/package-info.js';
import { trustFromFile } from '../client/cloud-trust.js';
import { INSECURE_PLAINTEXT, type CloudTrust } from '../transport/tls.js';
import { CA_CERT_FILE, initClusterKeys, serverCertFile, serverKeyFile } from './cluster-keys.js';
import { loadServerConfig } from './config.js';
import type { RuntimeStatus } from './runtime.js';

export interface ClusterMember {
  id: number;
  configPath: string;
  address: string;
  httpUrl: string;
}

export interface GenerateOptions {
  /** Folder for configs, data and logs (created). */
  dir: string;
  size: number;
  heartbeat_interval_secs?: number;
  election_timeout_secs?: number;
  failure_timeout_secs?: number;
  monitor_interval_secs?: number;
  thread_pool_size?: number;
  max_queue_size?: number;
  failureSimulation?: { interval_secs: number; max_silence_secs: number };
  directoryUrl?: string;
  /** A directory URL per server (e.g. its own database node first); overrides directoryUrl. */
  directoryUrlFor?: (id: number) => string;
  /** Extra lines appended to every server config (advanced tuning in tests). */
  extraToml?: string;
  /** Extra lines in every server's [limits] table. */
  limitsToml?: string;
  /**
   * INSECURE: no keys, plaintext links, no membership proof; only bench:cluster's side-by-side
   * comparison asks for this, by name.
   */
  insecurePlaintextForBenchmark?: boolean;
  /**
   * Where each server listens (e.g. its own network namespace's address); default: free ports
   * on 127.0.0.1.
   */
  endpoints?: (id: number) => { host: string; port: number; httpPort: number };
}

export interface StartOptions {
  /** Echo each server's log lines to this stream, prefixed with its id. */
  echo?: NodeJS.WritableStream;
  /** Environment for the server processes (LOG_LEVEL...). */
  env?: NodeJS.ProcessEnv;
  /**
   * A command that runs each server, e.g. `['ip', 'netns', 'exec', 'ns1']`: it must exec the
   * server in place (same pid), so signals reach the server itself.
   */
  launchPrefix?: (id: number) => string[];
  /** Pass --insecure-plaintext-for-benchmark to every server (bench:cluster's comparison only). */
  insecurePlaintextForBenchmark?: boolean;
}

interface Running {
  child: ChildProcess;
  exited: Promise<number | null>;
  log: WriteStream;
}

const CLI = packagePath('dist', 'cli', 'main.js');

/** Asks the OS for `count` free TCP ports on loopback. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<import('node:net').Server>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => {
    const address = server.address();
    return typeof address === 'object' && address ? address.port : 0;
  });
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

export class LocalCluster {
  private readonly running = new Map<number, Running>();
  /** Why each server last exited, with its last log line, to explain unexpected exits. */
  private readonly exits = new Map<number, string>();
  /** Servers we killed or stopped on purpose (their exit is not a failure). */
  private readonly stoppedOnPurpose = new Set<number>();
  private readonly logDir: string;

  constructor(
    readonly members: ClusterMember[],
    logDir: string,
    private readonly startOptions: StartOptions = {},
    /** The cloud's CA file (what clients trust); null in the plaintext benchmark mode. */
    readonly caPath: string | null = null,
  ) {
    this.logDir = logDir;
    mkdirSync(logDir, { recursive: true });
  }

  /** What a client of this cloud trusts. */
  get clientTrust(): CloudTrust | typeof INSECURE_PLAINTEXT {
    return this.caPath ? trustFromFile(this.caPath) : INSECURE_PLAINTEXT;
  }

  /** Uses existing config files (e.g. config/server1.toml..server3.toml). */
  static fromConfigs(
    paths: string[],
    logDir: string,
    startOptions: StartOptions = {},
  ): LocalCluster {
    const configs = paths.map((configPath) => ({
      configPath,
      config: loadServerConfig(configPath),
    }));
    const members = configs.map(({ configPath, config }) => ({
      id: config.id,
      configPath,
      address: `${config.address.host}:${config.address.port}`,
      httpUrl: `http://${config.http_address.host}:${config.http_address.port}`,
    }));
    return new LocalCluster(members, logDir, startOptions, configs[0]?.config.tls?.ca_path ?? null);
  }

  /**
   * Makes the keys these configs name when they are missing and laid out as `cluster init`
   * lays them out (what `npm start` needs on first run). Returns the folders it wrote to.
   */
  static async ensureKeys(paths: string[]): Promise<string[]> {
    const configs = paths.map((path) => loadServerConfig(path));
    const byDir = new Map<string, { clusterId: number; ids: number[] }>();
    for (const config of configs) {
      const tls = config.tls;
      if (!tls) continue;
      const dir = dirname(tls.ca_path);
      const standard =
        basename(tls.ca_path) === CA_CERT_FILE &&
        tls.cert_path === join(dir, serverCertFile(config.id)) &&
        tls.key_path === join(dir, serverKeyFile(config.id));
      if (!standard || (existsSync(tls.cert_path) && existsSync(tls.key_path))) continue;
      const entry = byDir.get(dir) ?? { clusterId: config.cluster_id, ids: [] };
      entry.ids.push(config.id);
      byDir.set(dir, entry);
    }
    for (const [dir, { clusterId, ids }] of byDir)
      await initClusterKeys({ dir, clusterId, serverIds: ids });
    return [...byDir.keys()];
  }

  /** Writes configs for `size` servers on free loopback ports into `dir`. */
  static async generate(
    options: GenerateOptions,
    startOptions: StartOptions = {},
  ): Promise<LocalCluster> {
    mkdirSync(options.dir, { recursive: true });
    const ports = options.endpoints ? [] : await freePorts(options.size * 2);
    const ids = Array.from({ length: options.size }, (_, i) => i + 1);
    const endpoint = (id: number): { host: string; port: number; httpPort: number } =>
      options.endpoints?.(id) ?? {
        host: '127.0.0.1',
        port: ports[(id - 1) * 2] ?? 0,
        httpPort: ports[(id - 1) * 2 + 1] ?? 0,
      };
    const address = (id: number): string => `${endpoint(id).host}:${endpoint(id).port}`;
    const httpAddressOf = (id: number): string => `${endpoint(id).host}:${endpoint(id).httpPort}`;
    const keysDir = join(options.dir, 'keys');
    if (!options.insecurePlaintextForBenchmark)
      await initClusterKeys({ dir: keysDir, clusterId: 1, serverIds: ids });
    const members = ids.map((id) => {
      const configPath = join(options.dir, `server${id}.toml`);
      const httpAddress = httpAddressOf(id);
      writeFileSync(configPath, serverToml(id, ids, address, httpAddressOf, options));
      return { id, configPath, address: address(id), httpUrl: `http://${httpAddress}` };
    });
    return new LocalCluster(
      members,
      join(options.dir, 'logs'),
      options.insecurePlaintextForBenchmark
        ? { ...startOptions, insecurePlaintextForBenchmark: true }
        : startOptions,
      options.insecurePlaintextForBenchmark ? null : join(keysDir, CA_CERT_FILE),
    );
  }

  get addresses(): string[] {
    return this.members.map((m) => m.address);
  }

  member(id: number): ClusterMember {
    const member = this.members.find((m) => m.id === id);
    if (!member) throw new Error(`no server ${id} in this cluster`);
    return member;
  }

  isRunning(id: number): boolean {
    return this.running.has(id);
  }

  pid(id: number): number | undefined {
    return this.running.get(id)?.child.pid;
  }

  async startAll(extraArgs: string[] = []): Promise<void> {
    for (const member of this.members) this.start(member.id, extraArgs);
  }

  /** Starts one server process (no-op if it runs). */
  start(id: number, extraArgs: string[] = []): void {
    if (this.running.has(id)) return;
    const member = this.member(id);
    const log = createWriteStream(join(this.logDir, `server-${id}.log`), { flags: 'a' });
    const command = [
      ...(this.startOptions.launchPrefix?.(id) ?? []),
      process.execPath,
      CLI,
      'server',
      '--config',
      member.configPath,
      ...(this.startOptions.insecurePlaintextForBenchmark
        ? ['--insecure-plaintext-for-benchmark']
        : []),
      ...extraArgs,
    ];
    const child = spawn(command[0] as string, command.slice(1), {
      env: { ...process.env, ...this.startOptions.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const echo = this.startOptions.echo;
    let lastLine = '';
    this.exits.delete(id);
    this.stoppedOnPurpose.delete(id);
    const forward = (chunk: Buffer): void => {
      log.write(chunk);
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        lastLine = line;
        echo?.write(`[s${id}] ${line}\n`);
      }
    };
    child.stdout?.on('data', forward);
    child.stderr?.on('data', forward);
    const exited = new Promise<number | null>((resolve) => {
      child.once('exit', (code, signal) => {
        log.write(`--- process exited (code ${code}, signal ${signal}) ---\n`);
        log.end();
        this.exits.set(
          id,
          `server ${id} exited (code ${code}, signal ${signal}): ${lastLine || 'no output'}`,
        );
        this.running.delete(id);
        resolve(code);
      });
    });
    this.running.set(id, { child, exited, log });
  }

  /** Sends a signal: SIGKILL (crash), SIGSTOP/SIGCONT (pause/resume), SIGTERM (graceful). */
  signal(id: number, signal: NodeJS.Signals): void {
    const running = this.running.get(id);
    if (!running) throw new Error(`server ${id} is not running`);
    if (signal === 'SIGKILL' || signal === 'SIGTERM' || signal === 'SIGINT')
      this.stoppedOnPurpose.add(id);
    running.child.kill(signal);
  }

  async kill(id: number): Promise<void> {
    const running = this.running.get(id);
    if (!running) return;
    this.stoppedOnPurpose.add(id);
    running.child.kill('SIGKILL');
    await running.exited;
  }

  /** Graceful stop (SIGTERM), then SIGKILL after `timeout_ms`. */
  async stop(id: number, timeout_ms = 15_000): Promise<void> {
    const running = this.running.get(id);
    if (!running) return;
    this.stoppedOnPurpose.add(id);
    running.child.kill('SIGCONT'); // a paused process cannot handle SIGTERM
    running.child.kill('SIGTERM');
    const timer = setTimeout(() => running.child.kill('SIGKILL'), timeout_ms);
    await running.exited;
    clearTimeout(timer);
  }

  async stopAll(timeout_ms = 15_000): Promise<void> {
    await Promise.all([...this.running.keys()].map((id) => this.stop(id, timeout_ms)));
  }

  /** /status of one server, or null when it does not answer within `timeout_ms`. */
  async status(id: number, timeout_ms = 1000): Promise<RuntimeStatus | null> {
    try {
      const response = await fetch(`${this.member(id).httpUrl}/status`, {
        signal: AbortSignal.timeout(timeout_ms),
      });
      return response.ok ? ((await response.json()) as RuntimeStatus) : null;
    } catch {
      return null;
    }
  }

  /**
   * Waits until every server in `ids` (default: all running ones) answers and follows the
   * same leader in the same epoch; returns that leader and epoch.
   */
  async waitForLeader(
    timeout_ms: number,
    ids?: number[],
  ): Promise<{ leader: number; epoch: number; elapsed_ms: number }> {
    const started = performance.now();
    let last = 'no server answered';
    while (performance.now() - started < timeout_ms) {
      const wanted = ids ?? [...this.running.keys()];
      const died = this.members.filter(
        (m) => this.exits.has(m.id) && !this.stoppedOnPurpose.has(m.id) && !this.running.has(m.id),
      );
      if (died.length > 0)
        throw new CloudP2PError(
          'server_exited',
          died.map((m) => this.exits.get(m.id)).join('; '),
          ExitCode.failure,
        );
      const statuses = await Promise.all(wanted.map((id) => this.status(id, 500)));
      const answered = statuses.filter((s): s is RuntimeStatus => s !== null);
      if (answered.length === wanted.length && answered.length > 0) {
        const first = answered[0] as RuntimeStatus;
        const agreed = answered.every(
          (s) => s.leader_id === first.leader_id && s.epoch === first.epoch && s.leader_id !== null,
        );
        const leaderAmongThem = answered.some(
          (s) => s.role === 'leader' && s.id === first.leader_id,
        );
        if (agreed && leaderAmongThem) {
          return {
            leader: first.leader_id as number,
            epoch: first.epoch,
            elapsed_ms: performance.now() - started,
          };
        }
        last = answered
          .map(
            (s) =>
              `server ${s.id}: ${s.role}, leader ${s.leader_id ?? 'none'}, epoch ${s.epoch_label}`,
          )
          .join('; ');
      } else {
        last = `${answered.length} of ${wanted.length} servers answered /status`;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new CloudP2PError(
      'no_leader',
      `no agreed leader within ${timeout_ms} ms (${last})`,
      ExitCode.unavailable,
    );
  }
}

/** The TOML config of server `id` in a cloud of `ids` (also used by src/lab for its hosts). */
export function serverToml(
  id: number,
  ids: number[],
  address: (id: number) => string,
  httpAddressOf: (id: number) => string,
  o: Omit<GenerateOptions, 'dir' | 'size'>,
): string {
  const peers = ids
    .filter((other) => other !== id)
    .map(
      (other) =>
        `  { id = ${other}, address = "${address(other)}", http_address = "${httpAddressOf(other)}" },`,
    );
  const lines = [
    '[server]',
    `id = ${id}`,
    `address = "${address(id)}"`,
    `http_address = "${httpAddressOf(id)}"`,
    `data_dir = "data/server-${id}"`,
    '',
    '[peers]',
    'peers = [',
    ...peers,
    ']',
    '',
    '[election]',
    `heartbeat_interval_secs = ${o.heartbeat_interval_secs ?? 0.25}`,
    `election_timeout_secs = ${o.election_timeout_secs ?? 0.5}`,
    `failure_timeout_secs = ${o.failure_timeout_secs ?? 1}`,
    `monitor_interval_secs = ${o.monitor_interval_secs ?? 0.1}`,
    '',
    '[encryption]',
    `thread_pool_size = ${o.thread_pool_size ?? 1}`,
    `max_queue_size = ${o.max_queue_size ?? 100}`,
    '',
    '[failure_simulation]',
    `enabled = ${o.failureSimulation !== undefined}`,
    `interval_secs = ${o.failureSimulation?.interval_secs ?? 30}`,
    `max_silence_secs = ${o.failureSimulation?.max_silence_secs ?? 20}`,
  ];
  const directoryUrl = o.directoryUrlFor?.(id) ?? o.directoryUrl;
  if (directoryUrl) lines.push('', '[directory]', `url = "${directoryUrl}"`);
  if (!o.insecurePlaintextForBenchmark)
    lines.push(
      '',
      '[tls]',
      `ca = "keys/${CA_CERT_FILE}"`,
      `cert = "keys/${serverCertFile(id)}"`,
      `key = "keys/${serverKeyFile(id)}"`,
    );
  if (o.limitsToml) lines.push('', '[limits]', o.limitsToml);
  if (o.extraToml) lines.push('', o.extraToml);
  return `${lines.join('\n')}\n`;
}

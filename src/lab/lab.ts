/**
 * The six-host lab (`cloudp2p lab …`): builds the course topology from network namespaces on
 * one bridge (topology.ts), starts on every cloud host its database node and its server, and on
 * every user host its agents (user-host.ts); then kills, cuts off, heals and revives whole
 * hosts, shows what runs where, and tears it all down. Every process is started detached and
 * recorded in the state file (state.ts), so the lab outlives the command that built it, and
 * `down` cleans up even after that command was killed with -9.
 */
import { mkdirSync, mkdtempSync, chmodSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { galeraProgramsMissing } from '../directory/galera/node.js';
import { BridgeNetwork } from '../netns/bridge-network.js';
import { netnsSupport } from '../netns/commands.js';
import { destroyNetnsResources, killNamespaceProcesses } from '../netns/resources.js';
import { CA_CERT_FILE } from '../server/cluster-keys.js';
import { LocalCluster, serverToml } from '../server/local-cluster.js';
import type { RuntimeStatus } from '../server/runtime.js';
import { CloudP2PError, ExitCode, UsageError, errorMessage } from '../util/errors.js';
import { packagePath } from '../util/package-info.js';
import { UserHostClient, type HostConfig, type UserHostStatus } from './control.js';
import { databaseFor, type LabDatabase } from './database.js';
import { initLabKeys, installServerKeys, installUserHostCa } from './keys.js';
import { isRunning, killRecorded, spawnInNamespace, type ProcessRecord } from './processes.js';
import {
  readState,
  removeState,
  withLabLock,
  writeState,
  type HostState,
  type LabOptions,
  type LabState,
} from './state.js';
import {
  LAB_PORTS,
  agentNames,
  cloudHosts,
  dashboardUrl,
  hostNamed,
  labTopology,
  serverAddress,
  userHosts,
  type LabHost,
  type LabTopology,
} from './topology.js';

const CLI = packagePath('dist', 'cli', 'main.js');
const LEADER_WAIT_MS = 120_000;
const USER_HOST_WAIT_MS = 300_000;
const AGENT_HEARTBEAT_MS = 5000;

export interface LabStartOptions extends LabOptions {
  lab: number;
  /** Images agents may encrypt (name and file). */
  images: { name: string; path: string }[];
  log(line: string): void;
}

/** What `lab show` prints, per host. */
export interface HostView {
  name: string;
  role: 'cloud' | 'users';
  address: string;
  state: HostState;
  processes: { role: string; pid: number; running: boolean }[];
  server?: {
    id: number;
    role: string | null;
    leader: number | null;
    epoch: string | null;
    dashboard: string;
  };
  database?: string;
  agents?: { total: number; online: number } | null;
}

export interface LabView {
  lab: number;
  subnet: string;
  bridge: string;
  dir: string;
  status: LabState['status'];
  directory: LabOptions['directory'];
  leader: number | null;
  hosts: HostView[];
}

export async function requireNetns(): Promise<void> {
  const support = await netnsSupport();
  if (!support.ok)
    throw new CloudP2PError(
      'lab_unsupported',
      `the lab cannot run here: ${support.reason}`,
      ExitCode.usage,
    );
}

export class Lab {
  readonly topology: LabTopology;
  private readonly database: LabDatabase;

  private constructor(private state: LabState) {
    this.topology = labTopology(state.lab, state.options.user_hosts ?? 3);
    this.database = databaseFor(state.options.directory, state.dir, this.topology);
  }

  /** The running lab `lab`, or a clear error saying there is none. */
  static open(lab: number): Lab {
    const state = readState(lab);
    if (!state)
      throw new CloudP2PError(
        'lab_not_running',
        `lab ${lab} is not running; start it with cloudp2p lab start${lab === 1 ? '' : ` --lab ${lab}`}`,
        ExitCode.usage,
      );
    return new Lab(state);
  }

  get lab(): number {
    return this.state.lab;
  }

  get dir(): string {
    return this.state.dir;
  }

  get options(): LabOptions {
    return this.state.options;
  }

  hostDir(host: LabHost): string {
    return join(this.state.dir, host.name);
  }

  hostState(name: string): HostState {
    return this.state.hosts[name]?.state ?? 'killed';
  }

  /** Builds the lab and starts every host; on failure everything created is removed again. */
  static async start(options: LabStartOptions): Promise<Lab> {
    await requireNetns();
    const missing = options.directory === 'galera' ? galeraProgramsMissing() : undefined;
    if (missing)
      throw new CloudP2PError(
        'lab_unsupported',
        `the lab's Galera directory cannot run here: ${missing}; or start the lab with --directory sqlite`,
        ExitCode.usage,
      );
    const topology = labTopology(options.lab, options.user_hosts);
    const lab = await withLabLock(options.lab, () => {
      const existing = readState(options.lab);
      if (existing)
        throw new CloudP2PError(
          'lab_running',
          `lab ${options.lab} already exists (created ${existing.created_at}); see it with cloudp2p lab show, remove it with cloudp2p lab down${options.lab === 1 ? '' : ` --lab ${options.lab}`}`,
          ExitCode.usage,
        );
      // Leftovers of a lab whose state file was lost (by name: the names are fixed per lab).
      destroyNetnsResources(BridgeNetwork.resourcesOf(networkSpec(topology)));
      const dir = mkdtempSync(join(tmpdir(), `cloudp2p-lab${options.lab}-`));
      // The database nodes run as an unprivileged user: they must be able to reach their folder.
      chmodSync(dir, 0o711);
      const state: LabState = {
        version: 1,
        lab: options.lab,
        created_by: process.pid,
        created_at: new Date().toISOString(),
        status: 'starting',
        dir,
        options: {
          user_hosts: options.user_hosts,
          agents_per_host: options.agents_per_host,
          directory: options.directory,
          failure_simulation: options.failure_simulation,
        },
        resources: BridgeNetwork.resourcesOf(networkSpec(topology)),
        hosts: Object.fromEntries(
          topology.hosts.map((h) => [
            h.name,
            { state: 'killed', since: new Date().toISOString(), processes: [] },
          ]),
        ),
        directory_url: '',
      };
      writeState(state);
      return new Lab(state);
    });
    try {
      options.log(
        `lab ${options.lab}: network ${topology.subnet} on bridge ${topology.bridge}, folder ${lab.dir}`,
      );
      await BridgeNetwork.create(networkSpec(topology));
      for (const host of topology.hosts)
        mkdirSync(lab.hostDir(host), { recursive: true, mode: 0o711 });
      await lab.installKeys();
      lab.writeConfigs(options.images);
      for (const host of cloudHosts(topology)) {
        await lab.startCloudHost(host, host.index === 1);
        options.log(
          `${host.name}: ${lab.database.kind === 'galera' ? 'Galera node and ' : ''}server ${host.index} started`,
        );
      }
      const agreed = await lab.waitForLeader(LEADER_WAIT_MS);
      options.log(`cloud up: leader ${agreed.leader} (epoch ${agreed.epoch})`);
      await Promise.all(userHosts(topology).map((host) => lab.startUserHost(host)));
      for (const host of userHosts(topology)) {
        const status = await lab.waitForUserHost(host, USER_HOST_WAIT_MS);
        options.log(
          `${host.name}: ${status.agents.filter((a) => a.online).length} of ${status.agents.length} agents signed in`,
        );
      }
      await lab.update((state) => {
        state.status = 'running';
      });
      return lab;
    } catch (err) {
      options.log(`start failed (${errorMessage(err)}); removing what was created`);
      await Lab.down(options.lab, () => undefined).catch(() => undefined);
      throw err;
    }
  }

  /** Changes the state file under the lab's lock (re-read first: another command may have changed it). */
  private async update(change: (state: LabState) => void): Promise<void> {
    await withLabLock(this.state.lab, () => {
      const fresh = readState(this.state.lab);
      if (!fresh)
        throw new CloudP2PError('lab_gone', `lab ${this.state.lab} was taken down meanwhile`);
      change(fresh);
      writeState(fresh);
      this.state = fresh;
    });
  }

  private async setHost(
    name: string,
    state: HostState,
    processes?: ProcessRecord[],
  ): Promise<void> {
    await this.update((s) => {
      const host = s.hosts[name] ?? { state, since: '', processes: [] };
      host.state = state;
      host.since = new Date().toISOString();
      if (processes) host.processes = processes;
      s.hosts[name] = host;
    });
  }

  /** `cloudp2p cluster init` once; each cloud host gets its own keys, each user host the CA. */
  private async installKeys(): Promise<void> {
    const clouds = cloudHosts(this.topology);
    const keysDir = await initLabKeys(
      CLI,
      this.state.dir,
      clouds.map((h) => h.index),
    );
    for (const host of clouds) installServerKeys(keysDir, this.hostDir(host), host.index);
    for (const host of userHosts(this.topology)) installUserHostCa(keysDir, this.hostDir(host));
  }

  private writeConfigs(images: LabStartOptions['images']): void {
    const clouds = cloudHosts(this.topology);
    const ids = clouds.map((h) => h.index);
    const byId = (id: number): LabHost => clouds.find((h) => h.index === id) as LabHost;
    for (const host of clouds) {
      const toml = serverToml(
        host.index,
        ids,
        (id) => serverAddress(byId(id)),
        (id) => `${byId(id).address}:${LAB_PORTS.http}`,
        {
          thread_pool_size: 1,
          directoryUrlFor: (id) => this.database.urlFor(byId(id)),
          ...(this.state.options.failure_simulation
            ? { failureSimulation: this.state.options.failure_simulation }
            : {}),
        },
      );
      writeFileSync(join(this.hostDir(host), 'server.toml'), toml);
    }
    const servers = clouds.map(serverAddress);
    for (const host of userHosts(this.topology)) {
      const config: HostConfig = {
        host: host.name,
        address: host.address,
        servers,
        agents: agentNames(host.index, this.state.options.agents_per_host),
        heartbeat_ms: AGENT_HEARTBEAT_MS,
        images,
      };
      writeFileSync(join(this.hostDir(host), 'host.json'), `${JSON.stringify(config, null, 2)}\n`);
    }
  }

  private async startCloudHost(host: LabHost, first: boolean): Promise<void> {
    const processes = await this.database.startNode(host, first);
    await this.setHost(host.name, 'up', processes);
    const server = spawnInNamespace(
      host.namespace,
      'server',
      [process.execPath, CLI, 'server', '--config', join(this.hostDir(host), 'server.toml')],
      join(this.hostDir(host), 'server.log'),
      { LOG_LEVEL: process.env.LOG_LEVEL ?? 'info' },
    );
    await this.setHost(host.name, 'up', [...processes, server]);
  }

  private async startUserHost(host: LabHost): Promise<void> {
    const dir = this.hostDir(host);
    rmSync(join(dir, 'control.sock'), { force: true });
    const runner = spawnInNamespace(
      host.namespace,
      'agents',
      [process.execPath, CLI, 'lab', 'user-host', dir],
      join(dir, 'user-host.log'),
      // The agents trust the cloud's CA (they have no config of their own in the lab).
      { LOG_LEVEL: process.env.LOG_LEVEL ?? 'info', CLOUDP2P_CLOUD_CA: join(dir, CA_CERT_FILE) },
    );
    await this.setHost(host.name, 'up', [runner]);
  }

  userHost(host: LabHost): UserHostClient {
    return new UserHostClient(this.hostDir(host));
  }

  /**
   * Waits until the user host answers and (unless `allSignedIn` is false) every agent on it is
   * signed in; fails early if its process died.
   */
  async waitForUserHost(
    host: LabHost,
    timeout_ms: number,
    allSignedIn = true,
  ): Promise<UserHostStatus> {
    const deadline = Date.now() + timeout_ms;
    let last = 'no answer yet';
    for (;;) {
      const record = this.state.hosts[host.name]?.processes[0];
      if (record && !isRunning(record))
        throw new CloudP2PError(
          'lab_host_failed',
          `${host.name}: its agents process exited; see ${record.log}`,
        );
      if (existsSync(this.userHost(host).socket)) {
        try {
          const status = await this.userHost(host).status();
          if (!allSignedIn || status.agents.every((a) => a.online)) return status;
          last = `${status.agents.filter((a) => a.online).length} of ${status.agents.length} agents signed in`;
        } catch (err) {
          last = errorMessage(err);
        }
      }
      if (Date.now() > deadline)
        throw new CloudP2PError(
          'lab_host_failed',
          `${host.name} not ready within ${timeout_ms} ms: ${last}`,
          ExitCode.unavailable,
        );
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  /** The servers as a LocalCluster view (for /status and waiting for an agreed leader). */
  cloud(): LocalCluster {
    return new LocalCluster(
      cloudHosts(this.topology).map((host) => ({
        id: host.index,
        configPath: join(this.hostDir(host), 'server.toml'),
        address: serverAddress(host),
        httpUrl: `http://${host.address}:${LAB_PORTS.http}`,
      })),
      join(this.state.dir, 'logs'),
    );
  }

  /** Waits until every cloud host that is up (not killed, not cut) follows one leader. */
  waitForLeader(
    timeout_ms: number,
  ): Promise<{ leader: number; epoch: number; elapsed_ms: number }> {
    const ids = cloudHosts(this.topology)
      .filter((h) => this.hostState(h.name) === 'up')
      .map((h) => h.index);
    return this.cloud().waitForLeader(timeout_ms, ids);
  }

  async show(): Promise<LabView> {
    const cloud = this.cloud();
    const hosts: HostView[] = [];
    let leader: number | null = null;
    for (const host of this.topology.hosts) {
      const record = this.state.hosts[host.name];
      const view: HostView = {
        name: host.name,
        role: host.role,
        address: host.address,
        state: record?.state ?? 'killed',
        processes: (record?.processes ?? []).map((p) => ({
          role: p.role,
          pid: p.pid,
          running: isRunning(p),
        })),
      };
      if (host.role === 'cloud') {
        const status: RuntimeStatus | null = await cloud.status(host.index, 1500);
        view.server = {
          id: host.index,
          role: status?.role ?? null,
          leader: status?.leader_id ?? null,
          epoch: status?.epoch_label ?? null,
          dashboard: dashboardUrl(host),
        };
        if (status?.role === 'leader') leader = host.index;
        view.database = await this.database
          .describe(host)
          .catch((err: unknown) => errorMessage(err));
      } else {
        const status = await this.userHost(host)
          .status(1500)
          .catch(() => null);
        view.agents = status
          ? { total: status.agents.length, online: status.agents.filter((a) => a.online).length }
          : null;
      }
      hosts.push(view);
    }
    return {
      lab: this.state.lab,
      subnet: this.topology.subnet,
      bridge: this.topology.bridge,
      dir: this.state.dir,
      status: this.state.status,
      directory: this.state.options.directory,
      leader,
      hosts,
    };
  }

  /** kill -9 of every process on the host (everything in its namespace). */
  async kill(name: string): Promise<number[]> {
    const host = hostNamed(this.topology, name);
    if (this.hostState(name) === 'killed')
      throw new UsageError(
        `${name} is already down; bring it back with cloudp2p lab revive ${name}`,
      );
    const killed = killNamespaceProcesses(host.namespace);
    for (const record of this.state.hosts[name]?.processes ?? [])
      if (killRecorded(record)) killed.push(record.pid);
    // A host killed while cut off comes back connected (a reboot does not keep firewall rules).
    await BridgeNetwork.heal(host.namespace).catch(() => undefined);
    await this.waitGone(this.state.hosts[name]?.processes ?? []);
    await this.setHost(name, 'killed', []);
    return [...new Set(killed)];
  }

  private async waitGone(records: ProcessRecord[]): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (records.some(isRunning) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
  }

  /** Starts a killed host's processes again: its database node rejoins and catches up. */
  async revive(name: string): Promise<void> {
    const host = hostNamed(this.topology, name);
    if (this.hostState(name) !== 'killed')
      throw new UsageError(
        `${name} is ${this.hostState(name)}, not killed; revive brings back a killed host`,
      );
    if (host.role === 'cloud') await this.startCloudHost(host, false);
    else await this.startUserHost(host);
  }

  /** Drops every packet to and from the host (iptables inside its namespace). */
  async cut(name: string): Promise<void> {
    const host = hostNamed(this.topology, name);
    if (this.hostState(name) !== 'up')
      throw new UsageError(
        `${name} is ${this.hostState(name)}; only a host that is up can be cut off`,
      );
    await BridgeNetwork.cut(host.namespace, { kind: 'all' });
    await this.setHost(name, 'cut');
  }

  async heal(name: string): Promise<void> {
    const host = hostNamed(this.topology, name);
    if (this.hostState(name) !== 'cut')
      throw new UsageError(`${name} is ${this.hostState(name)}, not cut off`);
    await BridgeNetwork.heal(host.namespace);
    await this.setHost(name, 'up');
  }

  /**
   * Removes lab `lab` entirely: every process (recorded, and anything still in its namespaces),
   * the namespaces, links and route, its folder and its state file. Works without a state file
   * too (names are fixed per lab). Returns a line per thing removed.
   */
  static async down(lab: number, log: (line: string) => void, keepDir = false): Promise<string[]> {
    const topology = labTopology(lab);
    return withLabLock(lab, () => {
      const done: string[] = [];
      let state: LabState | null = null;
      try {
        state = readState(lab);
      } catch (err) {
        log(errorMessage(err));
      }
      for (const [name, host] of Object.entries(state?.hosts ?? {}))
        for (const record of host.processes)
          if (killRecorded(record))
            done.push(`killed ${record.role} (pid ${record.pid}) on ${name}`);
      const resources = state?.resources ?? BridgeNetwork.resourcesOf(networkSpec(topology));
      done.push(...destroyNetnsResources(resources));
      if (state?.dir && !keepDir && existsSync(state.dir)) {
        rmSync(state.dir, { recursive: true, force: true });
        done.push(`removed ${state.dir}`);
      } else if (state?.dir && keepDir) done.push(`kept ${state.dir}`);
      if (state) {
        removeState(lab);
        done.push(`removed the state file of lab ${lab}`);
      }
      for (const line of done) log(line);
      return done;
    });
  }
}

export function networkSpec(topology: LabTopology): Parameters<typeof BridgeNetwork.create>[0] {
  return {
    bridge: topology.bridge,
    subnet: topology.subnet,
    bridgeAddress: topology.bridgeAddress,
    hosts: topology.hosts,
  };
}

/**
 * Real network partitions on Linux (root only): every server runs in a network namespace of its
 * own, linked by a veth pair to a bridge in the root namespace, where the stress driver and its
 * clients live. A partition is a set of iptables DROP rules inside the isolated server's
 * namespace; healing flushes them. Nothing here touches the root namespace's firewall.
 *
 * Addresses come from 198.18.0.0/15, the block reserved for network benchmarks (RFC 2544):
 * slot n uses 198.18.n.0/24, the bridge is .1 and server i is .(10 + i). The packets never
 * leave the machine: an `unreachable` route for the subnet stays in place until the very end,
 * so even after the bridge is gone nothing is sent towards the default gateway.
 *
 * Names carry the slot: namespace `cp2p-<n>-s<i>`, bridge `cp2pbr<n>`, veth `cp2p<n>v<i>`.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CloudP2PError, ExitCode, errorMessage } from '../util/errors.js';
import { claimSlot, destroyNetnsResources, type NetnsResources } from './owners.js';
import type { PartitionScope } from './spec.js';

const run = promisify(execFile);
const COMMAND_TIMEOUT_MS = 15_000;
export const SERVER_PORT = 7100;
export const SERVER_HTTP_PORT = 8100;
const MAX_SERVER_ID = 240;

/** Whether this machine can do netns partitions, and if not, why. */
export async function netnsSupport(): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (process.platform !== 'linux') return { ok: false, reason: 'network namespaces need Linux' };
  if (process.getuid?.() !== 0)
    return { ok: false, reason: 'network namespaces need root (run as root or in CI)' };
  for (const tool of [
    ['ip', '-V'],
    ['iptables', '-V'],
  ] as const) {
    try {
      await run(tool[0], [tool[1]], { timeout: COMMAND_TIMEOUT_MS });
    } catch {
      return {
        ok: false,
        reason: `the ${tool[0]} command is missing (apt-get install iproute2 iptables)`,
      };
    }
  }
  return { ok: true };
}

async function sh(args: string[], what: string): Promise<string> {
  const [command, ...rest] = args;
  try {
    const { stdout } = await run(command as string, rest, { timeout: COMMAND_TIMEOUT_MS });
    return stdout;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new CloudP2PError(
      'netns_failed',
      `${what} failed: ${args.join(' ')}: ${stderr || errorMessage(err)}`,
      ExitCode.failure,
    );
  }
}

export class NetnsNetwork {
  private readonly partitioned = new Map<number, PartitionScope>();
  private destroyed = false;

  private constructor(
    readonly slot: number,
    readonly serverIds: readonly number[],
    private readonly releaseSlot: () => void,
    readonly resources: NetnsResources,
  ) {}

  /**
   * Creates the bridge and one namespace per server. `onResources` is called before anything
   * is created (and again as it grows), so a crash half-way still leaves a record to clean up.
   */
  static async create(
    serverIds: readonly number[],
    onResources: (resources: NetnsResources) => void,
  ): Promise<NetnsNetwork> {
    for (const id of serverIds)
      if (id > MAX_SERVER_ID)
        throw new CloudP2PError(
          'netns_failed',
          `server id ${id} is too large for the namespace subnet (max ${MAX_SERVER_ID})`,
          ExitCode.usage,
        );
    const { slot, release } = claimSlot();
    const bridge = `cp2pbr${slot}`;
    const subnet = `198.18.${slot}.0/24`;
    const resources: NetnsResources = {
      slot,
      namespaces: serverIds.map((id) => `cp2p-${slot}-s${id}`),
      links: [bridge, ...serverIds.map((id) => `cp2p${slot}v${id}`)],
      routes: [['unreachable', subnet, 'metric', '4000']],
    };
    onResources(resources);
    const network = new NetnsNetwork(slot, serverIds, release, resources);
    try {
      // The safety route first: whatever happens later, this subnet never leaves the machine.
      await sh(['ip', 'route', 'replace', 'unreachable', subnet, 'metric', '4000'], 'guard route');
      await sh(['ip', 'link', 'add', bridge, 'type', 'bridge'], 'bridge');
      await sh(['ip', 'addr', 'add', `198.18.${slot}.1/24`, 'dev', bridge], 'bridge address');
      await sh(['ip', 'link', 'set', bridge, 'up'], 'bridge up');
      for (const id of serverIds) await network.addServer(id);
    } catch (err) {
      await network.destroy();
      throw err;
    }
    return network;
  }

  namespace(id: number): string {
    return `cp2p-${this.slot}-s${id}`;
  }

  host(id: number): string {
    return `198.18.${this.slot}.${10 + id}`;
  }

  get bridgeAddress(): string {
    return `198.18.${this.slot}.1`;
  }

  /** Command prefix that runs a server inside its namespace (ip netns exec execs in place). */
  launchPrefix(id: number): string[] {
    return ['ip', 'netns', 'exec', this.namespace(id)];
  }

  isPartitioned(id: number): boolean {
    return this.partitioned.has(id);
  }

  /**
   * Cuts server `id` off: from the other servers (scope servers) or from everyone, clients
   * and the driver's /status polling included (scope all). Both directions are dropped.
   */
  async partition(id: number, scope: PartitionScope): Promise<void> {
    const ns = this.namespace(id);
    if (scope === 'all') {
      await this.iptables(ns, ['-A', 'INPUT', '!', '-i', 'lo', '-j', 'DROP']);
      await this.iptables(ns, ['-A', 'OUTPUT', '!', '-o', 'lo', '-j', 'DROP']);
    } else {
      const others = this.serverIds
        .filter((other) => other !== id)
        .map((other) => this.host(other))
        .join(',');
      if (others === '') return;
      await this.iptables(ns, ['-A', 'INPUT', '-s', others, '-j', 'DROP']);
      await this.iptables(ns, ['-A', 'OUTPUT', '-d', others, '-j', 'DROP']);
    }
    this.partitioned.set(id, scope);
  }

  async heal(id: number): Promise<void> {
    const ns = this.namespace(id);
    await this.iptables(ns, ['-F', 'INPUT']);
    await this.iptables(ns, ['-F', 'OUTPUT']);
    this.partitioned.delete(id);
  }

  /** The DROP rules in force in a server's namespace (for checks and logs). */
  async rules(id: number): Promise<string> {
    return sh(['ip', 'netns', 'exec', this.namespace(id), 'iptables', '-S'], 'list rules');
  }

  /** Removes everything this network created; safe to call twice. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    destroyNetnsResources(this.resources);
    this.releaseSlot();
  }

  /** Synchronous variant for exit handlers. */
  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    destroyNetnsResources(this.resources);
    this.releaseSlot();
  }

  private async addServer(id: number): Promise<void> {
    const ns = this.namespace(id);
    const hostSide = `cp2p${this.slot}v${id}`;
    const inside = `cp2p${this.slot}p${id}`;
    await sh(['ip', 'netns', 'add', ns], `namespace ${ns}`);
    await sh(['ip', 'netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up'], 'loopback up');
    await sh(
      ['ip', 'link', 'add', hostSide, 'type', 'veth', 'peer', 'name', inside, 'netns', ns],
      `veth for server ${id}`,
    );
    await sh(['ip', 'link', 'set', hostSide, 'master', `cp2pbr${this.slot}`], 'attach veth');
    await sh(['ip', 'link', 'set', hostSide, 'up'], 'veth up');
    await sh(
      ['ip', 'netns', 'exec', ns, 'ip', 'addr', 'add', `${this.host(id)}/24`, 'dev', inside],
      'server address',
    );
    await sh(['ip', 'netns', 'exec', ns, 'ip', 'link', 'set', inside, 'up'], 'server link up');
  }

  private async iptables(ns: string, args: string[]): Promise<void> {
    await sh(['ip', 'netns', 'exec', ns, 'iptables', '-w', '5', ...args], `iptables in ${ns}`);
  }
}

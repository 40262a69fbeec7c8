/**
 * A network of hosts on one Linux machine: each host is a network namespace with its own
 * address, linked by a veth pair to one bridge in the root namespace (where the bridge has an
 * address too, so tools on the machine reach every host). Cutting a host off is a pair of
 * iptables DROP rules inside its namespace (the root namespace's firewall is never touched);
 * healing flushes them. Nothing leaves the machine: an `unreachable` route for the subnet is
 * added first and removed last, so even without the bridge no packet for these addresses goes
 * to the default gateway.
 *
 * Callers choose the names and addresses (src/stress uses `cp2p-<slot>-s<i>` in
 * 198.18.<slot>.0/24, src/lab `cp2plab<n>-<host>` in 198.19.<n>.0/24); `onResources` hears of
 * everything before it is created, so a crash half-way still leaves a record to clean up.
 */
import { sh } from './commands.js';
import { destroyNetnsResources, type NetnsResources } from './resources.js';

export interface NetnsHost {
  namespace: string;
  /** Its address on the bridge's /24. */
  address: string;
  /** The veth end in the root namespace (attached to the bridge); at most 15 characters. */
  hostLink: string;
  /** The veth end inside the namespace (e.g. `eth0`). */
  insideLink: string;
}

export interface BridgeNetworkSpec {
  bridge: string;
  /** e.g. `198.19.1.0/24`; only /24 subnets. */
  subnet: string;
  /** The bridge's own address in the subnet (the root namespace's side). */
  bridgeAddress: string;
  hosts: readonly NetnsHost[];
}

/** Who a cut host stops hearing: everyone, or only the listed addresses. */
export type CutScope = { kind: 'all' } | { kind: 'addresses'; addresses: readonly string[] };

export class BridgeNetwork {
  private destroyed = false;

  private constructor(
    readonly spec: BridgeNetworkSpec,
    readonly resources: NetnsResources,
  ) {}

  /** The record of what `spec` creates (also for cleaning up a network built by another process). */
  static resourcesOf(spec: BridgeNetworkSpec): NetnsResources {
    return {
      namespaces: spec.hosts.map((h) => h.namespace),
      links: [spec.bridge, ...spec.hosts.map((h) => h.hostLink)],
      routes: [['unreachable', spec.subnet, 'metric', '4000']],
    };
  }

  static async create(
    spec: BridgeNetworkSpec,
    onResources: (resources: NetnsResources) => void = () => undefined,
  ): Promise<BridgeNetwork> {
    const resources = BridgeNetwork.resourcesOf(spec);
    onResources(resources);
    const network = new BridgeNetwork(spec, resources);
    try {
      // The safety route first: whatever happens later, this subnet never leaves the machine.
      await sh(
        ['ip', 'route', 'replace', 'unreachable', spec.subnet, 'metric', '4000'],
        'guard route',
      );
      await sh(['ip', 'link', 'add', spec.bridge, 'type', 'bridge'], 'bridge');
      await sh(
        ['ip', 'addr', 'add', `${spec.bridgeAddress}/24`, 'dev', spec.bridge],
        'bridge address',
      );
      await sh(['ip', 'link', 'set', spec.bridge, 'up'], 'bridge up');
      for (const host of spec.hosts) await network.addHost(host);
    } catch (err) {
      network.destroy();
      throw err;
    }
    return network;
  }

  /** Command prefix that runs a program inside `host`'s namespace (`ip netns exec` execs in place). */
  static launchPrefix(namespace: string): string[] {
    return ['ip', 'netns', 'exec', namespace];
  }

  /** Drops traffic to and from `namespace` (both directions), per `scope`. */
  static async cut(namespace: string, scope: CutScope): Promise<void> {
    if (scope.kind === 'all') {
      await iptables(namespace, ['-A', 'INPUT', '!', '-i', 'lo', '-j', 'DROP']);
      await iptables(namespace, ['-A', 'OUTPUT', '!', '-o', 'lo', '-j', 'DROP']);
      return;
    }
    const others = scope.addresses.join(',');
    if (others === '') return;
    await iptables(namespace, ['-A', 'INPUT', '-s', others, '-j', 'DROP']);
    await iptables(namespace, ['-A', 'OUTPUT', '-d', others, '-j', 'DROP']);
  }

  static async heal(namespace: string): Promise<void> {
    await iptables(namespace, ['-F', 'INPUT']);
    await iptables(namespace, ['-F', 'OUTPUT']);
  }

  /** The iptables rules in force in a namespace (for checks and logs). */
  static rules(namespace: string): Promise<string> {
    return sh(['ip', 'netns', 'exec', namespace, 'iptables', '-S'], 'list rules');
  }

  /** Removes everything this network created; safe to call twice. */
  destroy(): string[] {
    if (this.destroyed) return [];
    this.destroyed = true;
    return destroyNetnsResources(this.resources);
  }

  private async addHost(host: NetnsHost): Promise<void> {
    const ns = host.namespace;
    await sh(['ip', 'netns', 'add', ns], `namespace ${ns}`);
    await sh(['ip', 'netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up'], 'loopback up');
    await sh(
      [
        'ip',
        'link',
        'add',
        host.hostLink,
        'type',
        'veth',
        'peer',
        'name',
        host.insideLink,
        'netns',
        ns,
      ],
      `veth for ${ns}`,
    );
    await sh(['ip', 'link', 'set', host.hostLink, 'master', this.spec.bridge], 'attach veth');
    await sh(['ip', 'link', 'set', host.hostLink, 'up'], 'veth up');
    await sh(
      [
        'ip',
        'netns',
        'exec',
        ns,
        'ip',
        'addr',
        'add',
        `${host.address}/24`,
        'dev',
        host.insideLink,
      ],
      `address of ${ns}`,
    );
    await sh(['ip', 'netns', 'exec', ns, 'ip', 'link', 'set', host.insideLink, 'up'], 'link up');
  }
}

async function iptables(namespace: string, args: string[]): Promise<void> {
  await sh(
    ['ip', 'netns', 'exec', namespace, 'iptables', '-w', '5', ...args],
    `iptables in ${namespace}`,
  );
}

/**
 * Real network partitions on Linux (root only): every server runs in a network namespace of its
 * own, linked by a veth pair to a bridge in the root namespace, where the stress driver and its
 * clients live (src/netns builds it). A partition is a set of iptables DROP rules inside the
 * isolated server's namespace; healing flushes them. Nothing here touches the root namespace's
 * firewall.
 *
 * Addresses come from 198.18.0.0/15, the block reserved for network benchmarks (RFC 2544):
 * slot n uses 198.18.n.0/24, the bridge is .1 and server i is .(10 + i). (The lab, src/lab,
 * uses 198.19.x.0/24, so the two never collide.)
 *
 * Names carry the slot: namespace `cp2p-<n>-s<i>`, bridge `cp2pbr<n>`, veth `cp2p<n>v<i>`.
 */
import { BridgeNetwork } from '../netns/bridge-network.js';
import { netnsSupport as support, type Support } from '../netns/commands.js';
import { CloudP2PError, ExitCode } from '../util/errors.js';
import { claimSlot, type NetnsResources } from './owners.js';
import type { PartitionScope } from './spec.js';

export const SERVER_PORT = 7100;
export const SERVER_HTTP_PORT = 8100;
const MAX_SERVER_ID = 240;

/** Whether this machine can do netns partitions, and if not, why. */
export function netnsSupport(): Promise<Support> {
  return support();
}

export class NetnsNetwork {
  private readonly partitioned = new Map<number, PartitionScope>();
  private destroyed = false;

  private constructor(
    readonly slot: number,
    readonly serverIds: readonly number[],
    private readonly releaseSlot: () => void,
    private readonly network: BridgeNetwork,
    readonly resources: NetnsResources,
  ) {}

  /**
   * Creates the bridge and one namespace per server. `onResources` is called before anything
   * is created, so a crash half-way still leaves a record to clean up.
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
    try {
      const network = await BridgeNetwork.create(
        {
          bridge: `cp2pbr${slot}`,
          subnet: `198.18.${slot}.0/24`,
          bridgeAddress: `198.18.${slot}.1`,
          hosts: serverIds.map((id) => ({
            namespace: `cp2p-${slot}-s${id}`,
            address: `198.18.${slot}.${10 + id}`,
            hostLink: `cp2p${slot}v${id}`,
            insideLink: `cp2p${slot}p${id}`,
          })),
        },
        (created) => onResources({ slot, ...created }),
      );
      return new NetnsNetwork(slot, serverIds, release, network, { slot, ...network.resources });
    } catch (err) {
      release();
      throw err;
    }
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
    return BridgeNetwork.launchPrefix(this.namespace(id));
  }

  isPartitioned(id: number): boolean {
    return this.partitioned.has(id);
  }

  /**
   * Cuts server `id` off: from the other servers (scope servers) or from everyone, clients
   * and the driver's /status polling included (scope all). Both directions are dropped.
   */
  async partition(id: number, scope: PartitionScope): Promise<void> {
    const others = this.serverIds.filter((other) => other !== id).map((o) => this.host(o));
    if (scope === 'servers' && others.length === 0) return;
    await BridgeNetwork.cut(
      this.namespace(id),
      scope === 'all' ? { kind: 'all' } : { kind: 'addresses', addresses: others },
    );
    this.partitioned.set(id, scope);
  }

  async heal(id: number): Promise<void> {
    await BridgeNetwork.heal(this.namespace(id));
    this.partitioned.delete(id);
  }

  /** The DROP rules in force in a server's namespace (for checks and logs). */
  rules(id: number): Promise<string> {
    return BridgeNetwork.rules(this.namespace(id));
  }

  /** Removes everything this network created; safe to call twice. */
  async destroy(): Promise<void> {
    this.destroySync();
  }

  /** Synchronous variant for exit handlers. */
  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.network.destroy();
    this.releaseSlot();
  }
}

/**
 * A second host on this machine behind a link of a chosen speed, for benchmarks that ask what
 * users on separate machines would see: one network namespace (198.18.250.2) on a bridge
 * (198.18.250.1, the root namespace, where the benchmark runs), both veth ends shaped by a
 * token bucket (`tc tbf`) to `mbit` Mbit/s. The subnet is from 198.18.0.0/15 (RFC 2544, for
 * benchmarks) and outside `src/stress`'s slots (1..200), so the two never collide.
 *
 * Root and Linux only (as src/netns); otherwise `emulatedLink` says why, and the caller skips.
 */
import { BridgeNetwork } from '../src/netns/bridge-network.js';
import { netnsSupport, sh } from '../src/netns/commands.js';
import { destroyNetnsResources } from '../src/netns/resources.js';

export interface EmulatedLink {
  /** Where the other host reaches this process's listeners. */
  rootAddress: string;
  /** Prefix that runs a command on the other host. */
  launchPrefix: string[];
  close(): void;
}

const SPEC = {
  bridge: 'cp2pbenchbr',
  subnet: '198.18.250.0/24',
  bridgeAddress: '198.18.250.1',
  hosts: [
    {
      namespace: 'cp2pbench-v',
      address: '198.18.250.2',
      hostLink: 'cp2pbenchv',
      insideLink: 'eth0',
    },
  ],
} as const;

/** Token bucket on one device: `mbit` Mbit/s, a burst of 1 ms at that rate (at least 64 KiB). */
function shape(prefix: readonly string[], device: string, mbit: number): Promise<string> {
  const burst_bytes = Math.max(64 * 1024, Math.round((mbit * 1e6) / 8 / 1000));
  return sh(
    [
      ...prefix,
      'tc',
      'qdisc',
      'replace',
      'dev',
      device,
      'root',
      'tbf',
      'rate',
      `${mbit}mbit`,
      'burst',
      String(burst_bytes),
      'latency',
      '50ms',
    ],
    `shape ${device} to ${mbit} Mbit/s`,
  );
}

/** The link, or why it cannot be built here. */
export async function emulatedLink(mbit: number): Promise<EmulatedLink | { skipped: string }> {
  const support = await netnsSupport([{ command: 'tc', args: ['-V'], package: 'iproute2' }]);
  if (!support.ok) return { skipped: support.reason };
  // A run killed before its cleanup leaves these behind; remove them first.
  destroyNetnsResources(BridgeNetwork.resourcesOf(SPEC));
  const network = await BridgeNetwork.create(SPEC);
  const host = SPEC.hosts[0];
  try {
    await shape([], host.hostLink, mbit);
    await shape(BridgeNetwork.launchPrefix(host.namespace), host.insideLink, mbit);
  } catch (err) {
    network.destroy();
    throw err;
  }
  return {
    rootAddress: SPEC.bridgeAddress,
    launchPrefix: BridgeNetwork.launchPrefix(host.namespace),
    close: () => network.destroy(),
  };
}

/**
 * What every `peer` command shares: its global options, printing, and `withAgent`, which runs a
 * use case against the user's running agent or, when none runs, one-shot in this process. The
 * agent's code (cloud client, stores, image engine) is imported only for a one-shot run: with
 * an agent running, a command needs little more than an HTTP client.
 */
import type { Command } from 'commander';
import { findRunningAgent } from '../../../peer/api-client.js';
import type { PeerAgent } from '../../../peer/agent.js';
import { resolveDataDir, type DataDir } from '../../../peer/data-dir.js';
import type { AgentOps } from '../../../peer/ops.js';
import type { CloudTrust } from '../../../transport/tls.js';
import { createLogger } from '../../../util/log.js';

export interface GlobalOptions {
  dataDir?: string;
  user?: string;
  servers?: string;
  cloudCa?: string;
  cloudFingerprint?: string;
  json?: boolean;
}

export const say = (line: string): void => void process.stdout.write(`${line}\n`);
export const note = (line: string): void => void process.stderr.write(`${line}\n`);

export const globals = (command: Command): GlobalOptions =>
  command.optsWithGlobals<GlobalOptions>();

export function quietLogger(username: string) {
  const level = process.env.LOG_LEVEL ? undefined : ('error' as const);
  return createLogger(`peer/${username}`, level ? { level } : {});
}

/** Runs `task` against the running agent, or one-shot in this process. */
export async function withAgent<T>(
  options: GlobalOptions,
  task: (ops: AgentOps, mode: 'running' | 'one-shot') => Promise<T>,
  oneShotNote?: string,
): Promise<T> {
  const dataDir = resolveDataDir(options);
  const running = await findRunningAgent(dataDir);
  if (running) return task(running, 'running');
  const identity = dataDir.readIdentity();
  const [agent, { localOps }] = await Promise.all([
    openOneShotAgent(options, dataDir, identity.username),
    import('../../../peer/ops.js'),
  ]);
  try {
    const result = await task(localOps(agent), 'one-shot');
    // After the work, not before: when it fails, its error is what matters.
    if (oneShotNote && !options.json)
      note(`(no agent is running for ${identity.username}: ${oneShotNote})`);
    return result;
  } finally {
    await agent.stop('one-shot command done');
  }
}

/** The user's agent in this process, for one command (imported only here: it is most of the code). */
export async function openOneShotAgent(
  options: GlobalOptions,
  dataDir: DataDir,
  username: string,
): Promise<PeerAgent> {
  const [{ PeerAgent }, { serversOverride }] = await Promise.all([
    import('../../../peer/agent.js'),
    import('../../servers.js'),
  ]);
  const servers = serversOverride(options);
  return PeerAgent.open({
    dataDir,
    mode: 'one-shot',
    ...(servers ? { servers } : {}),
    ...(await cloudTrustOption(options)),
    logger: quietLogger(username),
  });
}

/**
 * The cloud CA named on the command line (--cloud-ca / --cloud-fingerprint), if any; the agent
 * saves it at register and sign-in (peer/cloud-ca.ts). Imported only when a command needs it.
 */
export async function cloudTrustOption(
  options: GlobalOptions,
): Promise<{ cloudTrust?: CloudTrust }> {
  if (!options.cloudCa && !options.cloudFingerprint) return {};
  const { namedCloudTrust } = await import('../../../peer/cloud-ca.js');
  const trust = namedCloudTrust({
    caPath: options.cloudCa,
    caFingerprint: options.cloudFingerprint,
  });
  return trust ? { cloudTrust: trust } : {};
}

export function output(options: GlobalOptions, value: unknown, human: () => void): void {
  if (options.json) say(JSON.stringify(value, null, 2));
  else human();
}

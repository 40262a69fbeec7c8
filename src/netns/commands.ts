/**
 * Running `ip` and `iptables`, and whether this machine can: network namespaces need Linux,
 * root and the iproute2 and iptables packages. Every failure names the command that failed and
 * what it printed.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CloudP2PError, ExitCode, errorMessage } from '../util/errors.js';

const run = promisify(execFile);
export const COMMAND_TIMEOUT_MS = 15_000;

export type Support = { ok: true } | { ok: false; reason: string };

/** Whether this machine can build namespace networks, and if not, why (and what to install). */
export async function netnsSupport(
  extraTools: readonly { command: string; args: string[]; package: string }[] = [],
): Promise<Support> {
  if (process.platform !== 'linux') return { ok: false, reason: 'network namespaces need Linux' };
  if (process.getuid?.() !== 0)
    return { ok: false, reason: 'network namespaces need root (run as root or in CI)' };
  const tools = [
    { command: 'ip', args: ['-V'], package: 'iproute2' },
    { command: 'iptables', args: ['-V'], package: 'iptables' },
    ...extraTools,
  ];
  for (const tool of tools) {
    try {
      await run(tool.command, tool.args, { timeout: COMMAND_TIMEOUT_MS });
    } catch {
      return {
        ok: false,
        reason: `the ${tool.command} command is missing (apt-get install ${tool.package})`,
      };
    }
  }
  return { ok: true };
}

/** Runs a command (no shell); `what` names the step in the error. */
export async function sh(args: readonly string[], what: string): Promise<string> {
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

/**
 * The lab's cloud keys, laid out as on real machines (docs/DEPLOY.md): `cloudp2p cluster init`
 * runs once, in the lab's folder (`keys/`: the CA and every server's certificate); each cloud
 * host then gets only its own `keys/ca.crt`, `keys/server-<id>.crt` and `keys/server-<id>.key`
 * (what its server.toml's [tls] names), and the user hosts only the CA, which their agents
 * trust through CLOUDP2P_CLOUD_CA.
 */
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CA_CERT_FILE, serverCertFile, serverKeyFile } from '../server/cluster-keys.js';
import { CloudP2PError, ExitCode } from '../util/errors.js';

const run = promisify(execFile);
const KEYS_DIR = 'keys';

/** Runs `cloudp2p cluster init` for the given server ids; returns the folder it wrote. */
export async function initLabKeys(
  cli: string,
  labDir: string,
  serverIds: number[],
): Promise<string> {
  const dir = join(labDir, KEYS_DIR);
  try {
    await run(
      process.execPath,
      [cli, 'cluster', 'init', '--dir', dir, '--servers', serverIds.join(',')],
      {
        timeout: 120_000,
      },
    );
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new CloudP2PError(
      'lab_host_config',
      `cloudp2p cluster init failed: ${stderr || String(err)}`,
      ExitCode.failure,
    );
  }
  return dir;
}

/** Gives a cloud host its own keys (into <hostDir>/keys, 0700/0600). */
export function installServerKeys(keysDir: string, hostDir: string, serverId: number): void {
  const target = join(hostDir, KEYS_DIR);
  mkdirSync(target, { recursive: true, mode: 0o700 });
  chmodSync(target, 0o700);
  for (const file of [CA_CERT_FILE, serverCertFile(serverId), serverKeyFile(serverId)]) {
    copyFileSync(join(keysDir, file), join(target, file));
    chmodSync(join(target, file), 0o600);
  }
}

/** The CA file the agents of the lab trust (a copy in the user host's folder). */
export function installUserHostCa(keysDir: string, hostDir: string): string {
  const path = join(hostDir, CA_CERT_FILE);
  copyFileSync(join(keysDir, CA_CERT_FILE), path);
  chmodSync(path, 0o644);
  return path;
}

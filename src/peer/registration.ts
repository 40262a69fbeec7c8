/**
 * Use case 1: register. Creates the user's key, registers it with the directory and writes the
 * data directory. The key is saved (identity.pending.json) before the directory sees it, so a
 * crash in between cannot leave a registered name whose key is lost: registering again with
 * the same name finishes it.
 */
import { generateIdentity } from '../identity/keys.js';
import { toHex } from '../protocol/directory-protocol.js';
import { resolveCloudTrust } from '../client/cloud-trust.js';
import type { Endpoint } from '../transport/endpoint.js';
import type { CloudTrust } from '../transport/tls.js';
import { CloudP2PError, ExitCode } from '../util/errors.js';
import { explainWrongCloud, savedCloudCa } from './cloud-ca.js';
import type { DataDir } from './data-dir.js';
import { DirectoryRequestError } from './directory-client.js';
import { PeerDirectory } from './directory.js';

export interface RegistrationRequest {
  dataDir: DataDir;
  username: string;
  servers: Endpoint[];
  clusterId?: number;
  /** The cloud's CA named by the user; default CLOUDP2P_CLOUD_CA or the local cloud's. Saved. */
  cloudTrust?: CloudTrust;
  directoryTimeout_ms?: number;
}

export interface Registered {
  username: string;
  user_id: string;
  data_dir: string;
}

export async function registerUser(args: RegistrationRequest): Promise<Registered> {
  const { dataDir, username } = args;
  if (dataDir.hasIdentity()) {
    const existing = dataDir.readIdentity();
    throw new CloudP2PError(
      'already_registered',
      `${dataDir.root} already holds the identity of ${existing.username}; use another --data-dir to register another user`,
      ExitCode.usage,
    );
  }
  dataDir.securePermissions();
  // An interrupted registration of this name left its key: use it (else start with a new key).
  const keys = dataDir.readPendingIdentity(username) ?? generateIdentity();
  dataDir.writePendingIdentity(username, keys);
  const clusterId = args.clusterId ?? 1;
  // Resolved now (a clear error when there is none) and saved with the settings below.
  const trust = args.cloudTrust ?? resolveCloudTrust();
  const directory = new PeerDirectory({
    servers: args.servers,
    clusterId,
    trust,
    ...(args.directoryTimeout_ms === undefined
      ? {}
      : { requestTimeout_ms: args.directoryTimeout_ms }),
  });
  try {
    let userId: string;
    try {
      userId = (await directory.register(username, keys)).user_id;
    } catch (thrown) {
      const err = explainWrongCloud(thrown);
      // Registered before a crash with this very key? Then the name is ours: finish. Only
      // the key's holder can sign the lookup, so a name taken by someone else stays refused.
      if (!(err instanceof DirectoryRequestError && err.code === 'conflict')) throw err;
      const challenge = await directory.client.call('challenge', { username });
      directory.actAs(challenge.user_id, keys);
      const user = await directory.userById(challenge.user_id).catch(() => null);
      if (!user || user.public_key !== toHex(keys.publicKey)) throw usernameTaken(username);
      userId = user.user_id;
    }
    dataDir.writeIdentity({ username, user_id: userId, keys });
    dataDir.writeSettings({
      servers: args.servers,
      cluster_id: clusterId,
      cloud_ca: savedCloudCa(trust),
    });
    dataDir.removePendingIdentity();
    return { username, user_id: userId, data_dir: dataDir.root };
  } finally {
    directory.close();
  }
}

/** The directory's `conflict` for a name registered with another key: said as such. */
function usernameTaken(username: string): CloudP2PError {
  return new CloudP2PError(
    'username_taken',
    `the username "${username}" is already taken in this cloud; choose another`,
    ExitCode.badInput,
  );
}

/**
 * A peer agent's data directory: where it keeps the user's key, its settings, its database and
 * the image files. Every file is written atomically (temporary file, fsync, rename), so a crash
 * never leaves half a file behind. Everything in it is private to the user (files 0600, folders
 * 0700): it holds a private key, the ledger and images sealed to the user; `securePermissions`
 * repairs what an older version left readable to others.
 *
 *   identity.json   username, user id, public key, private seed (mode 0600)
 *   config.json     cloud server addresses
 *   agent.json      while `peer start` runs: pid, API port and token, P2P port (mode 0600)
 *   agent.lock      held by the running agent (pid inside)
 *   agent.sqlite    own images, copies, received images, ledger, pinned keys
 *   agent.log       output of an agent started by `peer login`
 *   ui.json         while `peer ui` runs: its port (mode 0600)
 *   identity.pending.json  a key being registered (see registration.ts)
 *   images/<id>.original, .preview.jpg, .stego.png    own images
 *   copies/<image id>/<viewer id>.png                 viewer copies made by this owner
 *   received/<owner id>/<image id>.png                copies received from owners
 *
 * Every path is made here; ids that name files are checked against their patterns first, so
 * no id from another peer can point outside the directory.
 */
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  lstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { identityFromSeed, type Identity } from '../identity/keys.js';
import {
  IMAGE_ID_PATTERN,
  USERNAME_PATTERN,
  USERNAME_RULE,
  UUID_PATTERN,
} from '../protocol/ids.js';
import { fromHex, toHex } from '../protocol/directory-protocol.js';
import { parseFirst, type Infer, type Schema } from '../protocol/schema.js';
import {
  AgentInfoFile,
  IdentityFile,
  PendingIdentityFile,
  SettingsFile,
  fileProblem,
  type AgentSettings,
  type RunningAgentInfo,
} from './data-dir-files.js';
import { CloudP2PError, ExitCode, UsageError } from '../util/errors.js';
import { processAlive } from '../util/process.js';

/** Re-exported: the CLI's agent client checks the pid in agent.json with it. */
export { processAlive };

/** Largest JSON settings file we read (they are a few hundred bytes). */
const MAX_SETTINGS_FILE_BYTES = 64 * 1024;

/** Mode of every file the agent writes: they hold keys, the ledger, images and their copies. */
export const PRIVATE_FILE_MODE = 0o600;
/** Mode of every folder the agent creates. */
export const PRIVATE_DIR_MODE = 0o700;

/**
 * Writes a file so that readers see either the old or the new content, never a mix. Private to
 * the user by default (a decrypted image written by `peer view` is as secret as the key).
 */
export function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  mode = PRIVATE_FILE_MODE,
): void {
  mkdirSync(dirname(path), { recursive: true, mode: PRIVATE_DIR_MODE });
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(temporary, 'wx', mode);
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(temporary, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(temporary, path);
}

/**
 * Makes `root` and everything under it private to the user: folders 0700, files 0600. Symbolic
 * links are left alone (chmod would follow them out of the folder). Folders deeper than
 * `maxDepth` are not walked: the data directory is three levels deep.
 */
export function makePrivate(root: string, maxDepth = 4): void {
  const walk = (path: string, depth: number): void => {
    let stat;
    try {
      stat = lstatSync(path);
    } catch {
      return; // removed meanwhile
    }
    if (stat.isSymbolicLink()) return;
    const wanted = stat.isDirectory() ? PRIVATE_DIR_MODE : PRIVATE_FILE_MODE;
    if ((stat.mode & 0o777) !== wanted) chmodSync(path, wanted);
    if (stat.isDirectory() && depth < maxDepth)
      for (const name of readdirSync(path)) walk(join(path, name), depth + 1);
  };
  walk(root, 0);
}

/** Reads a file of at most `maxBytes`; a clear error names the file and the limit. */
export function readFileLimited(path: string, maxBytes: number, what: string): Uint8Array {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (err) {
    throw new CloudP2PError(
      'file_unreadable',
      `cannot read the ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      ExitCode.badInput,
    );
  }
  if (size > maxBytes)
    throw new CloudP2PError(
      'file_too_large',
      `the ${what} ${path} is ${size} bytes; at most ${maxBytes} bytes are accepted`,
      ExitCode.badInput,
    );
  return new Uint8Array(readFileSync(path));
}

export interface StoredIdentity {
  username: string;
  user_id: string;
  keys: Identity;
}

export type { AgentSettings, RunningAgentInfo, SavedCloudCa } from './data-dir-files.js';

function settingsError(path: string, problem: string): CloudP2PError {
  return new CloudP2PError(
    'bad_data_dir',
    `${path}: ${problem} (the file was edited or damaged; restore it or register again in a new --data-dir)`,
    ExitCode.corrupted,
  );
}

/** The file at `path` as `schema` reads it; a clear error names the file and the key. */
function readJsonFile<S extends Schema>(path: string, schema: S): Infer<S> {
  const bytes = readFileLimited(path, MAX_SETTINGS_FILE_BYTES, 'settings file');
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw settingsError(path, 'not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw settingsError(path, 'expected a JSON object');
  const result = parseFirst(schema, value);
  if (!result.ok) throw settingsError(path, fileProblem(result.issue));
  return result.value;
}

/** An id that names a file, checked first: no id from another peer may point elsewhere. */
function fileId(id: string, pattern: RegExp, what: string): string {
  if (!pattern.test(id))
    throw new CloudP2PError(
      'invalid_argument',
      `not ${what}: ${JSON.stringify(id.slice(0, 80))}`,
      ExitCode.badInput,
    );
  return id;
}
/** The bytes of hex text a schema has checked (lowercase, 2 characters a byte). */
function hexBytes(hex: string): Uint8Array {
  const bytes = fromHex(hex, hex.length / 2);
  if (!bytes) throw new TypeError('hexBytes: text not checked as hex');
  return bytes;
}

const imageFileId = (id: string): string => fileId(id, IMAGE_ID_PATTERN, 'an image id');
const userFileId = (id: string): string => fileId(id, UUID_PATTERN, 'a user id');

export class DataDir {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  path(...parts: string[]): string {
    return join(this.root, ...parts);
  }

  get identityPath(): string {
    return this.path('identity.json');
  }
  get configPath(): string {
    return this.path('config.json');
  }
  get agentInfoPath(): string {
    return this.path('agent.json');
  }
  get lockPath(): string {
    return this.path('agent.lock');
  }
  get databasePath(): string {
    return this.path('agent.sqlite');
  }
  get agentLogPath(): string {
    return this.path('agent.log');
  }
  get uiInfoPath(): string {
    return this.path('ui.json');
  }
  get pendingIdentityPath(): string {
    return this.path('identity.pending.json');
  }

  /** The original of an own image (needed to make viewers' copies). */
  originalPath(imageId: string): string {
    return this.path('images', `${imageFileId(imageId)}.original`);
  }
  previewPath(imageId: string): string {
    return this.path('images', `${imageFileId(imageId)}.preview.jpg`);
  }
  /** The owner's own copy, encrypted through the cloud (sealed to the owner). */
  stegoPath(imageId: string): string {
    return this.path('images', `${imageFileId(imageId)}.stego.png`);
  }
  /** The copy made for one viewer. */
  copyPath(imageId: string, viewerId: string): string {
    return this.path('copies', imageFileId(imageId), `${userFileId(viewerId)}.png`);
  }
  /** A copy received from an owner. */
  receivedPath(ownerId: string, imageId: string): string {
    return this.path('received', userFileId(ownerId), `${imageFileId(imageId)}.png`);
  }

  /** Creates the folders (private to the user: they hold a key and received images). */
  ensure(): void {
    mkdirSync(this.root, { recursive: true, mode: PRIVATE_DIR_MODE });
    for (const sub of ['images', 'copies', 'received'])
      mkdirSync(this.path(sub), { recursive: true, mode: PRIVATE_DIR_MODE });
  }

  /**
   * Repairs the modes of everything in the data directory (files 0600, folders 0700): earlier
   * versions wrote the database, its WAL, the log and settings readable by everyone.
   */
  securePermissions(): void {
    this.ensure();
    makePrivate(this.root);
  }

  hasIdentity(): boolean {
    return existsSync(this.identityPath);
  }

  writeIdentity(identity: StoredIdentity): void {
    this.ensure();
    writeFileAtomic(
      this.identityPath,
      `${JSON.stringify(
        {
          format: 'cloudp2p identity v1',
          username: identity.username,
          user_id: identity.user_id,
          public_key: toHex(identity.keys.publicKey),
          seed: toHex(identity.keys.seed),
        },
        null,
        2,
      )}\n`,
    );
  }

  readIdentity(): StoredIdentity {
    const path = this.identityPath;
    if (!existsSync(path))
      throw new CloudP2PError(
        'no_identity',
        `no identity in ${this.root}: run \`cloudp2p peer register <username>\` first (or pick another --data-dir)`,
        ExitCode.usage,
      );
    const value = readJsonFile(path, IdentityFile);
    const keys = identityFromSeed(hexBytes(value.seed));
    if (toHex(keys.publicKey) !== value.public_key)
      throw settingsError(path, 'public_key does not belong to the seed');
    return { username: value.username, user_id: value.user_id, keys };
  }

  /** Keeps a key being registered before the directory sees it (mode 0600). */
  writePendingIdentity(username: string, keys: Identity): void {
    this.ensure();
    writeFileAtomic(
      this.pendingIdentityPath,
      JSON.stringify({ username, seed: toHex(keys.seed), public_key: toHex(keys.publicKey) }),
      0o600,
    );
  }

  /** The key an interrupted registration of `username` saved, or null (none, or unreadable). */
  readPendingIdentity(username: string): Identity | null {
    if (!existsSync(this.pendingIdentityPath)) return null;
    try {
      const saved = readJsonFile(this.pendingIdentityPath, PendingIdentityFile);
      return saved.username === username ? identityFromSeed(hexBytes(saved.seed)) : null;
    } catch {
      return null;
    }
  }

  removePendingIdentity(): void {
    rmSync(this.pendingIdentityPath, { force: true });
  }

  writeSettings(settings: AgentSettings): void {
    this.ensure();
    writeFileAtomic(this.configPath, `${JSON.stringify(settings, null, 2)}\n`);
  }

  /** The saved settings, or undefined when there are none. */
  readSettings(): AgentSettings | undefined {
    if (!existsSync(this.configPath)) return undefined;
    return readJsonFile(this.configPath, SettingsFile);
  }

  writeAgentInfo(info: RunningAgentInfo): void {
    writeFileAtomic(this.agentInfoPath, `${JSON.stringify(info, null, 2)}\n`);
  }

  /** What the running agent published, or undefined (absent or unreadable: treated as none). */
  readAgentInfo(): RunningAgentInfo | undefined {
    if (!existsSync(this.agentInfoPath)) return undefined;
    try {
      return readJsonFile(this.agentInfoPath, AgentInfoFile);
    } catch {
      return undefined;
    }
  }

  removeAgentInfo(): void {
    rmSync(this.agentInfoPath, { force: true });
  }

  /**
   * Takes the agent lock: one running agent per data directory. A lock left by a process that
   * no longer exists is taken over. Throws when another live agent holds it.
   */
  acquireLock(): () => void {
    this.ensure();
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(this.lockPath, 'wx', PRIVATE_FILE_MODE);
        writeSync(fd, `${process.pid}\n`);
        closeSync(fd);
        return () => {
          try {
            if (readFileSync(this.lockPath, 'utf8').trim() === String(process.pid))
              unlinkSync(this.lockPath);
          } catch {
            // already gone
          }
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const holder = Number(readFileSync(this.lockPath, 'utf8').trim());
        if (
          Number.isInteger(holder) &&
          holder > 0 &&
          processAlive(holder) &&
          holder !== process.pid
        )
          throw new CloudP2PError(
            'agent_running',
            `an agent (pid ${holder}) already runs on ${this.root}; stop it with \`cloudp2p peer logout\` first`,
            ExitCode.usage,
          );
        rmSync(this.lockPath, { force: true });
      }
    }
    throw new CloudP2PError(
      'agent_lock',
      `cannot take the agent lock ${this.lockPath}`,
      ExitCode.failure,
    );
  }
}

/**
 * Which data directory a command uses: --data-dir, else $CLOUDP2P_HOME, else
 * ~/.cloudp2p/<user> for --user (or the username being registered), else the only user
 * registered under ~/.cloudp2p.
 */
export function resolveDataDir(options: { dataDir?: string; user?: string }): DataDir {
  if (options.dataDir) return new DataDir(options.dataDir);
  const fromEnv = process.env.CLOUDP2P_HOME;
  if (fromEnv) return new DataDir(fromEnv);
  const base = join(homedir(), '.cloudp2p');
  if (options.user) {
    if (!USERNAME_PATTERN.test(options.user))
      throw new UsageError(`--user ${JSON.stringify(options.user)}: use ${USERNAME_RULE}`);
    return new DataDir(join(base, options.user));
  }
  const users = existsSync(base)
    ? readdirSync(base).filter((name) => existsSync(join(base, name, 'identity.json')))
    : [];
  if (users.length === 1) return new DataDir(join(base, users[0] as string));
  throw new UsageError(
    users.length === 0
      ? 'no user registered here yet: run `cloudp2p peer register <username>` (or give --data-dir)'
      : `several users are registered in ${base} (${users.join(', ')}): pick one with --user or --data-dir`,
  );
}

/**
 * Files the user asked a command to write (`-o`, `--out`, `--out-dir`). The path is checked
 * before the command does its work, so a typo in a folder name costs nothing and says what
 * is wrong, and a failed write names the file and the reason instead of a stack trace.
 */
import { constants } from 'node:fs';
import { access, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { CloudP2PError } from '../util/errors.js';

function unwritable(message: string): CloudP2PError {
  return new CloudP2PError('output_unwritable', message);
}

async function statOrUndefined(
  path: string,
): Promise<Awaited<ReturnType<typeof stat>> | undefined> {
  try {
    return await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw err;
  }
}

/** A folder that exists and that we may create files in; else a usage error (exit 2) saying why. */
export async function checkOutputFolder(folder: string, what: string): Promise<void> {
  const found = await statOrUndefined(folder);
  if (!found) {
    throw unwritable(`cannot write ${what}: the folder ${folder} does not exist (create it first)`);
  }
  if (!found.isDirectory()) throw unwritable(`cannot write ${what}: ${folder} is not a folder`);
  try {
    await access(folder, constants.W_OK);
  } catch {
    throw unwritable(`cannot write ${what}: no permission to create files in ${folder}`);
  }
}

/**
 * Checks that `path` names a file we can create or replace: its folder exists and is
 * writable, and `path` is not itself a folder. `suggestedName` makes the folder case's
 * message concrete ("did you mean <folder>/<name>?").
 */
export async function checkOutputFile(
  path: string,
  what: string,
  suggestedName?: string,
): Promise<void> {
  const existing = await statOrUndefined(path);
  if (existing?.isDirectory()) {
    const hint = suggestedName ? `; give a file name, e.g. ${join(path, suggestedName)}` : '';
    throw unwritable(`cannot write ${what} to ${path}: it is a folder${hint}`);
  }
  await checkOutputFolder(dirname(resolve(path)), `${what} to ${path}`);
}

/** Writes a file the user named; a failure names the file and the reason (exit 1). */
export async function writeOutputFile(
  path: string,
  bytes: Uint8Array | string,
  what: string,
): Promise<void> {
  try {
    await writeFile(path, bytes);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reasons: Record<string, string> = {
      ENOENT: `the folder ${dirname(resolve(path))} does not exist`,
      EISDIR: 'it is a folder',
      ENOTDIR: `a part of ${dirname(path)} is not a folder`,
      EACCES: 'permission denied',
      EPERM: 'permission denied',
      EROFS: 'the file system is read-only',
      ENOSPC: 'the disk is full',
    };
    const reason = (code && reasons[code]) ?? (err as Error).message;
    throw new CloudP2PError('write_failed', `cannot write ${what} to ${path}: ${reason}`);
  }
}

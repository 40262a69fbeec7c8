/** Argument parsers and small helpers shared by several `cloudp2p` subcommands. */
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError } from 'commander';
import type { ViewerGrant } from '../stego/index.js';
import { CloudP2PError, ExitCode } from '../util/errors.js';

export function parsePositiveInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 1) {
    throw new InvalidArgumentError('expected a positive integer');
  }
  return parsed;
}

export function parsePositiveNumber(value: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0)
    throw new InvalidArgumentError('expected a positive number');
  return parsed;
}

/** `--viewer bob:3`, repeatable. */
export function collectViewer(value: string, previous: ViewerGrant[]): ViewerGrant[] {
  const match = /^([^:]+):(\d{1,7})$/.exec(value);
  if (!match) throw new InvalidArgumentError('expected user:quota, e.g. bob:3');
  return [...previous, { username: match[1] as string, quota: Number(match[2]) }];
}

/** Reads a file the user named, with an error that says which file and why. */
export async function readInputFile(path: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (err) {
    throw new CloudP2PError(
      'file_unreadable',
      `cannot read the ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      ExitCode.badInput,
    );
  }
}

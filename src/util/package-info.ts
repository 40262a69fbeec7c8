/** Facts about the installed package: its root folder (for shipped assets) and version. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root: two levels above this file both in src/util and in dist/util. */
export const packageRoot: string = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function packagePath(...segments: string[]): string {
  return join(packageRoot, ...segments);
}

export function readPackageVersion(): string {
  const manifest = JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as {
    version?: unknown;
  };
  return typeof manifest.version === 'string' ? manifest.version : '0.0.0';
}

/**
 * What the peer agent promises about its files: everything under a data directory is private
 * to the user (files 0600, folders 0700). Used by unit and integration tests alike.
 */
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Every file and folder under `root` whose mode is not private, as "path mode" lines. */
export function modesNotPrivate(root: string): string[] {
  const found: string[] = [];
  const walk = (path: string): void => {
    const stat = lstatSync(path);
    const mode = stat.mode & 0o777;
    if (stat.isDirectory()) {
      if (mode !== 0o700) found.push(`${path} ${mode.toString(8)}`);
      for (const name of readdirSync(path)) walk(join(path, name));
    } else if (mode !== 0o600) found.push(`${path} ${mode.toString(8)}`);
  };
  walk(root);
  return found;
}

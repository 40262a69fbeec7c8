/**
 * What a namespace network created, as a plain record that can be saved to a file and removed
 * later by another process: namespaces (and whatever still runs inside), links, and routes in
 * the root namespace. Removal is synchronous so it can run from an exit handler, and every step
 * is attempted even if an earlier one fails.
 */
import { execFileSync } from 'node:child_process';

export interface NetnsResources {
  namespaces: string[];
  links: string[];
  /** Routes added in the root namespace, as `ip route` arguments. */
  routes: string[][];
}

/** The pids of every process in namespace `ns` (empty when it does not exist). */
export function namespacePids(ns: string): number[] {
  try {
    return execFileSync('ip', ['netns', 'pids', ns], {
      encoding: 'utf8',
      timeout: 10_000,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .split(/\s+/)
      .filter(Boolean)
      .map(Number)
      .filter((pid) => Number.isSafeInteger(pid) && pid > 1);
  } catch {
    return [];
  }
}

/** kill -9 of every process in namespace `ns`; returns the pids signalled. */
export function killNamespaceProcesses(ns: string): number[] {
  const killed: number[] = [];
  for (const pid of namespacePids(ns)) {
    try {
      process.kill(pid, 'SIGKILL');
      killed.push(pid);
    } catch {
      // already gone
    }
  }
  return killed;
}

/** Deletes namespaces (killing whatever still runs inside), links and routes. */
export function destroyNetnsResources(resources: NetnsResources): string[] {
  const done: string[] = [];
  const ip = (args: string[]): boolean => {
    try {
      execFileSync('ip', args, { stdio: 'ignore', timeout: 10_000 });
      return true;
    } catch {
      return false;
    }
  };
  for (const ns of resources.namespaces) {
    killNamespaceProcesses(ns);
    if (ip(['netns', 'del', ns])) done.push(`deleted network namespace ${ns}`);
  }
  for (const link of resources.links)
    if (ip(['link', 'del', link])) done.push(`deleted link ${link}`);
  for (const route of resources.routes)
    if (ip(['route', 'del', ...route])) done.push(`deleted route ${route.join(' ')}`);
  return done;
}

/**
 * Waiting for a condition on state that lives elsewhere (another process, a file, a socket)
 * without sleeping: the condition is checked once at the start and then again only when one of
 * its wakes reports that something changed. Wakes are the events that state produces: a file
 * written, a server's dashboard stream pushing a snapshot or an event, a socket closing. The
 * deadline is for failure only: a healthy run goes on the moment the condition holds.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Socket } from 'node:net';

/** Starts listening for changes, calling `changed` on each; returns how to stop listening. */
export type Wake = (changed: () => void) => () => void;

/**
 * Resolves true once `condition()` holds, false when `deadline_ms` passes first. Between checks
 * it waits for one of `wakes`, never for a fixed time.
 */
export async function waitFor(
  condition: () => Promise<boolean> | boolean,
  deadline_ms: number,
  wakes: readonly Wake[],
): Promise<boolean> {
  if (wakes.length === 0)
    throw new Error('waitFor needs at least one wake: what changes the state?');
  let changes = 0;
  let wakeUp: (() => void) | null = null;
  const changed = (): void => {
    changes++;
    wakeUp?.();
  };
  const stops = wakes.map((wake) => wake(changed));
  const deadline = Date.now() + deadline_ms;
  try {
    for (;;) {
      const seen = changes;
      if (await condition()) return true;
      const left_ms = deadline - Date.now();
      if (left_ms <= 0) return false;
      if (changes !== seen) continue; // changed while the condition was being checked
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        wakeUp = resolve;
        timer = setTimeout(resolve, left_ms);
      });
      clearTimeout(timer);
      wakeUp = null;
    }
  } finally {
    for (const stop of stops) stop();
  }
}

/** Every change to `path` (also its creation), or with `recursive`, to anything under it. */
export function fileChanges(path: string, options: { recursive?: boolean } = {}): Wake {
  return (changed) => {
    let watcher: FSWatcher;
    if (options.recursive) {
      watcher = watch(path, { recursive: true }, () => changed());
    } else {
      // The folder is watched, so a file that does not exist yet is seen when it is created.
      const name = basename(path);
      watcher = watch(dirname(path), (_event, file) => {
        if (file === null || file === name) changed();
      });
    }
    watcher.on('error', () => changed());
    return () => watcher.close();
  };
}

/**
 * Every message of the servers' dashboard streams (`GET /events`: a snapshot each second and
 * each event as it happens). A stream that fails or ends (its server was killed or paused) is
 * opened again at the next message of another one, so any live server keeps the waiter awake.
 */
export function dashboardStreams(httpUrls: readonly string[]): Wake {
  return (changed) => {
    const abort = new AbortController();
    const open = new Set<string>();
    const follow = (url: string): void => {
      if (abort.signal.aborted || open.has(url)) return;
      open.add(url);
      void (async () => {
        try {
          const response = await fetch(`${url}/events`, { signal: abort.signal });
          if (!response.body) return;
          for await (const _chunk of response.body) {
            changed();
            for (const other of httpUrls) follow(other);
          }
        } catch {
          // Killed, paused or refusing: the other streams (or the deadline) wake the waiter.
        } finally {
          open.delete(url);
          if (!abort.signal.aborted) changed();
        }
      })();
    };
    for (const url of httpUrls) follow(url);
    return () => abort.abort();
  };
}

/** A socket's end: data, end of input, close or error. */
export function socketEvents(sockets: readonly Socket[]): Wake {
  return (changed) => {
    const events = ['data', 'end', 'close', 'error'] as const;
    for (const socket of sockets) for (const event of events) socket.on(event, changed);
    return () => {
      for (const socket of sockets) for (const event of events) socket.off(event, changed);
    };
  };
}

/**
 * Samples every `interval_ms`: only for state that no event reports to this process (the length
 * of a queue inside another process, the exit of a process that is not our child). Each use says
 * why no event serves.
 */
export function sampling(interval_ms: number): Wake {
  return (changed) => {
    const timer = setInterval(changed, interval_ms);
    return () => clearInterval(timer);
  };
}

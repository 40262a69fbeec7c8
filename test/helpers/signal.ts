/**
 * Waiting on a condition that changes on events, without polling: the code that changes the
 * state calls `changed()`, and `until(condition)` re-checks the condition then (and only then).
 * The deadline is for failure only: a healthy run goes on the moment the condition holds.
 */
export class Signal {
  private waiters: Array<() => void> = [];

  /** Wakes every waiter to check its condition again. */
  changed(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }

  /**
   * Resolves once `condition()` holds; rejects naming `what` when `deadline_ms` passes first.
   */
  async until(condition: () => boolean, what: string, deadline_ms = 30_000): Promise<void> {
    const deadline = Date.now() + deadline_ms;
    while (!condition()) {
      const left_ms = deadline - Date.now();
      if (left_ms <= 0) throw new Error(`${what}: not within ${deadline_ms} ms`);
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        timer = setTimeout(resolve, left_ms);
      });
      clearTimeout(timer);
    }
  }
}

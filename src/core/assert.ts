/**
 * Assertions on the state machines' invariants (TigerBeetle style): a broken invariant means
 * the node's state is wrong, so it stops at once, saying which invariant broke and with what
 * values, rather than act on it. They never depend on input: input that could break one is
 * refused before it gets that far (and the simulator and the fuzz tests try hard to find
 * such input). What the runtime does on one: see README.md here ("Invariants").
 */

/** A broken invariant: a bug in the core (or memory corruption), never bad input. */
export class InvariantViolation extends Error {
  constructor(
    /** Which invariant, in words, e.g. "epochs never decrease". */
    readonly invariant: string,
    /** The values that break it. */
    readonly details: Readonly<Record<string, unknown>>,
  ) {
    super(`invariant broken: ${invariant} (${describe(details)})`);
    this.name = 'InvariantViolation';
  }
}

/** Throws InvariantViolation unless `ok`; `details` is only built when it fails. */
export function invariant(
  ok: boolean,
  name: string,
  details: () => Record<string, unknown>,
): asserts ok {
  if (!ok) throw new InvariantViolation(name, details());
}

function describe(details: Record<string, unknown>): string {
  return Object.entries(details)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
}

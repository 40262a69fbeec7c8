/**
 * Validation by schema: every message, argument and answer that comes from outside is described
 * once as a valibot schema, its TypeScript type is derived from the schema (`Infer<typeof S>`),
 * and it is checked by that schema. valibot was chosen by measurement over TypeBox and zod
 * (bench/validation.ts, docs/RESULTS.md): fastest to load (one module; every process and the
 * browser page pays the load), fastest to refuse, and fast enough on valid input.
 *
 * The builders below attach to each schema the sentence an error message uses ("64 lowercase
 * hex characters", "an integer from 1 to 10000"), so a refusal reads
 * "<where>.<field>: expected <what is allowed>", "<where>: unknown field "x"; allowed: a, b" or
 * "<where>.<field>: missing; expected …". Pure and browser-safe.
 */
import * as v from 'valibot';

export { v };

/** Any schema. */
export type Schema = v.GenericSchema;
/** The TypeScript type a schema accepts. */
export type Infer<S extends Schema> = v.InferOutput<S>;

export interface Checker<T> {
  readonly schema: Schema;
  /** True when the value satisfies the schema (a type guard). */
  is(value: unknown): value is T;
  /** Null when the value is valid, else "<where>.<field>: expected <what is allowed>". */
  problem(value: unknown, where?: string): string | null;
}

const FIRST_ISSUE = { abortEarly: true, abortPipeEarly: true } as const;

/** A checker for `schema`. */
export function checker<S extends Schema>(schema: S): Checker<Infer<S>> {
  return {
    schema,
    is: (value): value is Infer<S> => v.is(schema, value),
    problem: (value, where = '') => {
      const result = parseFirst(schema, value);
      return result.ok ? null : describeIssue(result.issue, where);
    },
  };
}

/** The typed value, or the first issue found (for callers that word the refusal themselves). */
export function parseFirst<S extends Schema>(
  schema: S,
  value: unknown,
): { ok: true; value: Infer<S> } | { ok: false; issue: v.BaseIssue<unknown> } {
  const result = v.safeParse(schema, value, FIRST_ISSUE);
  return result.success
    ? { ok: true, value: result.output }
    : { ok: false, issue: result.issues[0] };
}

/** "<where>.<path>: <message>" for a valibot issue. */
export function describeIssue(issue: v.BaseIssue<unknown>, where = ''): string {
  let path = where;
  for (const item of issue.path ?? []) {
    const key = (item as { key: unknown }).key;
    path =
      typeof key === 'number'
        ? `${path}[${key}]`
        : path === ''
          ? String(key)
          : `${path}.${String(key)}`;
  }
  return `${path === '' ? 'the value' : path}: ${issue.message}`;
}

// ---- What a schema allows, in words ----------------------------------------------------------

const descriptions = new WeakMap<object, string>();

function described<S extends Schema>(schema: S, description: string): S {
  descriptions.set(schema, description);
  return schema;
}

/** What a schema allows, in words (builders below record it; others get a generic phrase). */
export function describeSchema(schema: Schema): string {
  const own = descriptions.get(schema);
  if (own !== undefined) return own;
  const wrapped = (schema as { wrapped?: Schema }).wrapped;
  if (wrapped !== undefined) return describeSchema(wrapped);
  return schema.expects;
}

// ---- Builders -----------------------------------------------------------------------------
//
// Numbers, patterns and list lengths are one `v.custom` check each rather than valibot's pipe
// of actions (number, integer, minValue, maxValue): same verdicts and messages, and the codec
// runs them on every field of every frame; a leader's Heartbeat checked in 5.0 µs with pipes,
// 3.5 µs with single checks (npm run bench:codec-checks, docs/RESULTS.md).

/** An integer from `min` to `max` (both included). */
export function Int(min: number, max: number, description = `an integer from ${min} to ${max}`) {
  const message = `expected ${description}`;
  return described(
    v.custom<number>(
      (x) => typeof x === 'number' && Number.isInteger(x) && x >= min && x <= max,
      message,
    ),
    description,
  );
}

/** A finite number from `min` to `max` (both included): loads, scores, percentages. */
export function Num(min: number, max: number, description = `a number from ${min} to ${max}`) {
  const message = `expected ${description}`;
  // NaN fails both comparisons; the bounds refuse the infinities.
  return described(
    v.custom<number>((x) => typeof x === 'number' && x >= min && x <= max, message),
    description,
  );
}

/** A string matching `pattern` (anchored), described in words for error messages. */
export function Pattern(pattern: RegExp, description: string) {
  const message = `expected ${description}`;
  return described(
    v.custom<string>((x) => typeof x === 'string' && pattern.test(x), message),
    description,
  );
}

const CONTROL_CHARACTER = /\p{Cc}/u;

/** `minChars`..`maxChars` characters with no control characters (they reach terminals and logs). */
export function Text(maxChars: number, minChars = 1) {
  const description = `${minChars}..${maxChars} characters without control characters`;
  const message = `expected ${description}`;
  return described(
    v.pipe(
      v.string(message),
      v.minLength(minChars, message),
      v.maxLength(maxChars, message),
      v.check((text) => !CONTROL_CHARACTER.test(text), message),
    ),
    description,
  );
}

/** Any string of at most `maxChars` characters. */
export function AnyText(maxChars: number) {
  const description = `text of at most ${maxChars} characters`;
  const message = `expected ${description}`;
  return described(v.pipe(v.string(message), v.maxLength(maxChars, message)), description);
}

export function Bool() {
  return described(v.boolean('expected true or false'), 'true or false');
}

/** Exactly this value. */
export function Literal<const L extends string | number | boolean>(value: L) {
  return described(v.literal(value, `expected ${JSON.stringify(value)}`), JSON.stringify(value));
}

/** One of these string values. */
export function OneOf<const V extends readonly string[]>(values: V) {
  const description = `one of ${values.map((x) => JSON.stringify(x)).join(', ')}`;
  return described(v.picklist(values, `expected ${description}`), description);
}

/** `schema` or null. */
export function Nullable<S extends Schema>(schema: S) {
  return described(v.nullable(schema), `null or ${describeSchema(schema)}`);
}

/** `schema`, or the key left out. */
export function Optional<S extends Schema>(schema: S) {
  return v.optional(schema);
}

/** A list of at most `maxItems` (at least `minItems`) items. */
export function List<S extends Schema>(
  item: S,
  maxItems: number,
  minItems = 0,
): v.GenericSchema<unknown[], Infer<S>[]> {
  const description = `a list of ${minItems > 0 ? `${minItems}..` : 'at most '}${maxItems} items`;
  const message = `expected ${description}`;
  // The length first: a hostile list of a million items is refused before any item is read.
  return described(
    v.pipe(
      v.custom<unknown[]>(
        (x) => Array.isArray(x) && x.length >= minItems && x.length <= maxItems,
        message,
      ),
      v.array(item, message),
    ),
    description,
  );
}

/** An object with exactly these keys (optional ones wrapped in Optional); no others. */
export function Strict<const E extends v.ObjectEntries>(entries: E) {
  const allowed = allowedKeys(entries);
  return described(v.strictObject(entries, objectMessage(entries)), `an object with ${allowed}`);
}

/**
 * An object with these keys; other keys are tolerated and left out of the parsed value: for
 * messages whose newer senders may add fields (the cloud's core messages), files a newer version
 * may extend (the agent's data files) and values handed over in code (a store's arguments, a
 * database row). What a stranger sends for a fixed shape uses Strict.
 */
export function Tolerant<const E extends v.ObjectEntries>(entries: E) {
  const allowed = allowedKeys(entries);
  return described(v.object(entries, objectMessage(entries)), `an object with ${allowed}`);
}

function allowedKeys(entries: v.ObjectEntries): string {
  return Object.keys(entries).join(', ') || 'none';
}

/** The message of an object's own issues: an unknown key, a missing key, not an object. */
function objectMessage(entries: v.ObjectEntries) {
  const allowed = allowedKeys(entries);
  return (issue: v.BaseIssue<unknown>): string => {
    const key = (issue.path?.[issue.path.length - 1] as { key?: unknown } | undefined)?.key;
    if (issue.expected === 'never')
      return `unknown field ${JSON.stringify(String(key).slice(0, 40))}; allowed: ${allowed}`;
    if (typeof key === 'string' && Object.hasOwn(entries, key))
      return `missing; expected ${describeSchema(entries[key] as Schema)}`;
    return `expected an object with ${allowed}`;
  };
}

/** Objects told apart by the constant value of `key` (`type`, `kind`, `op`). */
export function Variant<const K extends string, const O extends v.VariantOptions<K>>(
  key: K,
  options: O,
) {
  const values = options.map((option) => {
    const entries = (option as unknown as { entries: Record<string, { literal?: unknown }> })
      .entries;
    return JSON.stringify(entries[key]?.literal);
  });
  return v.variant(key, options, `expected one of ${values.join(', ')}`);
}

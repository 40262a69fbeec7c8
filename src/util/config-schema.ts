/**
 * Config files described as valibot schemas, with the refusals a person fixing a config needs:
 * "<file>: <key path>: <what was found>; <what is allowed>". Every table is strict (a typo must
 * not silently fall back to a default) and every key with a default is filled in, so a program
 * reads its config as one typed value (`readConfig(document, schema)`).
 *
 * The messages are those of a config file, not of the wire (src/protocol/schema.ts words those):
 * "0 is out of range; allowed 1..999", "missing required key", "unknown key "x" in [server]".
 * valibot is imported directly: util/ imports nothing of src/.
 */
import * as v from 'valibot';
import { ConfigError, type ConfigDocument } from './config-reader.js';

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return 'a date';
  if (typeof value === 'object' && value !== null) return 'a table';
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** "a.b[0].c" for the keys of a path (TOML tables and arrays of tables). */
function pathText(path: readonly unknown[] | undefined, upTo = path?.length ?? 0): string {
  let text = '';
  for (const item of (path ?? []).slice(0, upTo)) {
    const key = (item as { key: unknown }).key;
    text =
      typeof key === 'number' ? `${text}[${key}]` : text ? `${text}.${String(key)}` : String(key);
  }
  return text;
}

const requiredTables = new WeakSet<object>();
/**
 * Stand-ins for where an issue is, filled in by readConfig: a schema's message is made before
 * the tables around it add their keys to the issue's path.
 */
const THE_TABLE = '{the table}';
const THE_KEY = '{the key}';

/** A TOML table with exactly these keys. Absent, it reads as empty (every key's default). */
export function Table<const E extends v.ObjectEntries>(entries: E) {
  const allowed = Object.keys(entries).sort().join(', ') || '(none)';
  const object = v.strictObject(entries, (issue) => {
    const path = issue.path ?? [];
    const key = String((path[path.length - 1] as { key?: unknown } | undefined)?.key);
    if (issue.expected === 'never')
      return `unknown key ${JSON.stringify(key)} in ${THE_TABLE}; allowed: ${allowed}`;
    if (issue.type === 'strict_object' && issue.expected !== 'Object') {
      const entry = entries[key];
      return entry !== undefined && requiredTables.has(entry)
        ? `missing required table [${THE_KEY}]`
        : 'missing required key';
    }
    return `expected a table, got ${describe(issue.input)}`;
  });
  // valibot takes arrays and dates for objects; a config says what it found instead.
  return v.pipe(
    v.custom<Record<string, unknown>>(
      (value) =>
        typeof value === 'object' &&
        value !== null &&
        !Array.isArray(value) &&
        !(value instanceof Date),
      (issue) => `expected a table, got ${describe(issue.input)}`,
    ),
    object,
  );
}

/** A table the file must have. */
export function RequiredTable<const E extends v.ObjectEntries>(entries: E) {
  const table = Table(entries);
  requiredTables.add(table);
  return table;
}

/** A table that may be left out (then all its defaults apply). */
export function OptionalTable<const E extends v.ObjectEntries>(entries: E) {
  return v.optional(Table(entries), {});
}

/** A table that may be left out (undefined then: the program says what that means). */
export function MaybeTable<const E extends v.ObjectEntries>(entries: E) {
  return v.optional(Table(entries));
}

/** What a config schema reads (after defaults and conversions). */
export type ConfigOf<S extends v.GenericSchema> = v.InferOutput<S>;

/** An array of tables (TOML `[[x]]` or an inline array of `{ ... }`); absent, none. */
export function TableList<S extends v.GenericSchema>(table: S, maxItems: number) {
  return v.optional(
    v.pipe(
      v.array(v.unknown(), (issue) => `expected an array of tables, got ${describe(issue.input)}`),
      v.maxLength(
        maxItems,
        (issue) => `${issue.input.length} entries; at most ${maxItems} are allowed`,
      ),
      v.array(table),
    ),
    [],
  );
}

interface Range {
  min: number;
  max: number;
}

/** A number in `min..max`, or `fallback` when left out (no fallback: required). */
export function Num({ min, max }: Range, fallback?: number) {
  const number = v.pipe(
    v.number((issue) => `expected a number, got ${describe(issue.input)}`),
    v.finite((issue) => `expected a number, got ${describe(issue.input)}`),
    v.check(
      (n) => n >= min && n <= max,
      (issue) => `${String(issue.input)} is out of range; allowed ${min}..${max}`,
    ),
  );
  return fallback === undefined ? number : v.optional(number, fallback);
}

/** A whole number in `min..max`, or `fallback` when left out (no fallback: required). */
export function Integer(range: Range, fallback?: number) {
  return v.pipe(
    Num(range, fallback),
    v.check(
      (n) => Number.isInteger(n),
      (issue) => `expected a whole number, got ${String(issue.input)}`,
    ),
  );
}

/** A whole number in `min..max` that may be left out (undefined then). */
export function OptionalInteger(range: Range) {
  return v.optional(Integer(range));
}

/** Seconds in the file (fractions allowed), milliseconds in the program. */
export function Seconds(range: Range, fallbackMs: number) {
  return v.pipe(
    Num(range, fallbackMs / 1000),
    v.transform((secs) => Math.round(secs * 1000)),
  );
}

export function Bool(fallback: boolean) {
  return v.optional(
    v.boolean((issue) => `expected true or false, got ${describe(issue.input)}`),
    fallback,
  );
}

interface TextRule {
  maxLength?: number;
  pattern?: RegExp;
  /** What `pattern` allows, in words. */
  patternHint?: string;
}

function text({ maxLength = 4096, pattern, patternHint }: TextRule = {}) {
  return v.pipe(
    v.string((issue) => `expected a string, got ${describe(issue.input)}`),
    v.maxLength(maxLength, `longer than ${maxLength} characters`),
    v.check(
      (value) => pattern === undefined || pattern.test(value),
      (issue) =>
        `${JSON.stringify(issue.input)} is not allowed; expected ${patternHint ?? String(pattern)}`,
    ),
  );
}

/** A string, or `fallback` when left out (no fallback: required). */
export function Text(rule: TextRule = {}, fallback?: string) {
  return fallback === undefined ? text(rule) : v.optional(text(rule), fallback);
}

/** A string that may be left out (undefined then). */
export function OptionalText(rule: TextRule = {}) {
  return v.optional(text(rule));
}

/** A list of strings, or `fallback` when left out (no fallback: required). */
export function TextList(
  { maxItems, maxLength = 4096 }: { maxItems: number; maxLength?: number },
  fallback?: string[],
) {
  const list = v.pipe(
    v.custom<string[]>(
      (value) => Array.isArray(value) && value.every((item) => typeof item === 'string'),
      (issue) => `expected an array of strings, got ${describe(issue.input)}`,
    ),
    v.maxLength(
      maxItems,
      (issue) => `${issue.input.length} entries; at most ${maxItems} are allowed`,
    ),
    v.check(
      (items) => items.every((item) => item.length <= maxLength),
      `an entry is longer than ${maxLength} characters`,
    ),
  );
  return fallback === undefined ? list : v.optional(list, fallback);
}

/** A key accepted for compatibility with no effect (any value). */
export function Ignored() {
  return v.optional(v.unknown());
}

/** The document as `schema` reads it, or a ConfigError naming the file, the key and the rule. */
export function readConfig<S extends v.GenericSchema>(
  document: ConfigDocument,
  schema: S,
): v.InferOutput<S> {
  const result = v.safeParse(schema, document.values, { abortEarly: true, abortPipeEarly: true });
  if (result.success) return result.output;
  const issue = result.issues[0];
  const path = issue.path ?? [];
  const where = pathText(path);
  if (issue.message.includes(THE_TABLE)) {
    // About the table that holds the key, not the key: no key path in front.
    const table = pathText(path, path.length - 1);
    const message = issue.message.replace(THE_TABLE, table ? `[${table}]` : 'the top level');
    throw new ConfigError(`${document.source}: ${message}`);
  }
  const message = issue.message.replace(THE_KEY, where);
  throw new ConfigError(
    where === '' ? `${document.source}: ${message}` : `${document.source}: ${where}: ${message}`,
  );
}

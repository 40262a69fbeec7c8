/**
 * Reads a parsed TOML document with validation: every accessor names the file, the key path,
 * what was found and what is allowed, so a user can fix their config from the message alone.
 * Unknown keys are errors (a typo must not silently fall back to a default).
 */
import { readFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import { parseEndpoint, type Endpoint, type EndpointRules } from '../transport/endpoint.js';
import { CloudP2PError, ExitCode } from './errors.js';

export class ConfigError extends CloudP2PError {
  constructor(message: string) {
    super('bad_config', message, ExitCode.usage);
    this.name = 'ConfigError';
  }
}

/** Largest config file we read: configs are a few hundred bytes; anything huge is a mistake. */
const MAX_CONFIG_BYTES = 1024 * 1024;

export function loadTomlFile(path: string): ConfigTable {
  let text: string;
  try {
    const bytes = readFileSync(path);
    if (bytes.length > MAX_CONFIG_BYTES) {
      throw new ConfigError(
        `${path}: config file is ${bytes.length} bytes; the limit is ${MAX_CONFIG_BYTES}`,
      );
    }
    text = bytes.toString('utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory' : String(err);
    throw new ConfigError(`${path}: cannot read config: ${reason}`);
  }
  return parseTomlText(text, path);
}

export function parseTomlText(text: string, source: string): ConfigTable {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (err) {
    const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new ConfigError(`${source}: not valid TOML: ${message}`);
  }
  return new ConfigTable(source, '', doc);
}

interface NumberRule {
  min: number;
  max: number;
}

/** One TOML table with the keys read so far, so leftovers can be reported as unknown. */
export class ConfigTable {
  private readonly seen = new Set<string>();

  constructor(
    readonly source: string,
    readonly path: string,
    private readonly values: Record<string, unknown>,
  ) {}

  has(key: string): boolean {
    return this.values[key] !== undefined;
  }

  where(key?: string): string {
    const full = key === undefined ? this.path : this.path ? `${this.path}.${key}` : key;
    return full ? `${this.source}: ${full}` : this.source;
  }

  /** A sub-table; an absent one reads as empty so every key in it falls back to its default. */
  table(key: string, options: { required?: boolean } = {}): ConfigTable {
    this.seen.add(key);
    const value = this.values[key];
    if (value === undefined) {
      if (options.required)
        throw new ConfigError(
          `${this.where(key)}: missing required table [${this.qualified(key)}]`,
        );
      return new ConfigTable(this.source, this.qualified(key), {});
    }
    if (!isPlainTable(value))
      throw new ConfigError(`${this.where(key)}: expected a table, got ${describe(value)}`);
    return new ConfigTable(this.source, this.qualified(key), value);
  }

  /** An array of tables (TOML `[[x]]` or an inline array of `{ ... }`). */
  tables(key: string, options: { maxItems: number }): ConfigTable[] {
    this.seen.add(key);
    const value = this.values[key];
    if (value === undefined) return [];
    if (!Array.isArray(value))
      throw new ConfigError(
        `${this.where(key)}: expected an array of tables, got ${describe(value)}`,
      );
    if (value.length > options.maxItems) {
      throw new ConfigError(
        `${this.where(key)}: ${value.length} entries; at most ${options.maxItems} are allowed`,
      );
    }
    return value.map((item, index) => {
      const itemPath = `${this.qualified(key)}[${index}]`;
      if (!isPlainTable(item))
        throw new ConfigError(
          `${this.source}: ${itemPath}: expected a table, got ${describe(item)}`,
        );
      return new ConfigTable(this.source, itemPath, item);
    });
  }

  string(
    key: string,
    fallback?: string,
    options: { maxLength?: number; pattern?: RegExp; patternHint?: string } = {},
  ): string {
    const value = this.take(key, fallback);
    if (typeof value !== 'string')
      throw new ConfigError(`${this.where(key)}: expected a string, got ${describe(value)}`);
    const maxLength = options.maxLength ?? 4096;
    if (value.length > maxLength)
      throw new ConfigError(`${this.where(key)}: longer than ${maxLength} characters`);
    if (options.pattern && !options.pattern.test(value)) {
      throw new ConfigError(
        `${this.where(key)}: ${JSON.stringify(value)} is not allowed; expected ${options.patternHint ?? options.pattern}`,
      );
    }
    return value;
  }

  optionalString(key: string, options: { maxLength?: number } = {}): string | undefined {
    if (!this.has(key)) {
      this.seen.add(key);
      return undefined;
    }
    return this.string(key, undefined, options);
  }

  integer(key: string, fallback: number | undefined, rule: NumberRule): number {
    const value = this.number(key, fallback, rule);
    if (!Number.isInteger(value))
      throw new ConfigError(`${this.where(key)}: expected a whole number, got ${value}`);
    return value;
  }

  number(key: string, fallback: number | undefined, rule: NumberRule): number {
    const value = this.take(key, fallback);
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new ConfigError(`${this.where(key)}: expected a number, got ${describe(value)}`);
    }
    if (value < rule.min || value > rule.max) {
      throw new ConfigError(
        `${this.where(key)}: ${value} is out of range; allowed ${rule.min}..${rule.max}`,
      );
    }
    return value;
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.take(key, fallback);
    if (typeof value !== 'boolean')
      throw new ConfigError(`${this.where(key)}: expected true or false, got ${describe(value)}`);
    return value;
  }

  stringArray(
    key: string,
    fallback: string[] | undefined,
    options: { maxItems: number; maxLength?: number },
  ): string[] {
    const value = this.take(key, fallback);
    if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) {
      throw new ConfigError(
        `${this.where(key)}: expected an array of strings, got ${describe(value)}`,
      );
    }
    if (value.length > options.maxItems) {
      throw new ConfigError(
        `${this.where(key)}: ${value.length} entries; at most ${options.maxItems} are allowed`,
      );
    }
    const maxLength = options.maxLength ?? 4096;
    const tooLong = value.find((item: string) => item.length > maxLength);
    if (tooLong !== undefined)
      throw new ConfigError(`${this.where(key)}: an entry is longer than ${maxLength} characters`);
    return value as string[];
  }

  /** Marks keys that are accepted for compatibility but have no effect. */
  ignore(...keys: string[]): void {
    for (const key of keys) this.seen.add(key);
  }

  /** Throws on any key that no accessor asked for (most often a typo). */
  rejectUnknownKeys(): void {
    const unknown = Object.keys(this.values).filter((key) => !this.seen.has(key));
    if (unknown.length > 0) {
      const allowed = [...this.seen].sort().join(', ') || '(none)';
      const where = this.path ? `[${this.path}]` : 'the top level';
      throw new ConfigError(
        `${this.source}: unknown key ${unknown.map((k) => JSON.stringify(k)).join(', ')} in ${where}; allowed: ${allowed}`,
      );
    }
  }

  private take(key: string, fallback: unknown): unknown {
    this.seen.add(key);
    const value = this.values[key];
    if (value !== undefined) return value;
    if (fallback === undefined) throw new ConfigError(`${this.where(key)}: missing required key`);
    return fallback;
  }

  private qualified(key: string): string {
    return this.path ? `${this.path}.${key}` : key;
  }
}

function isPlainTable(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date)
  );
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return 'a date';
  if (typeof value === 'object' && value !== null) return 'a table';
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** Parses "host:port" (IPv4, host name, or [IPv6]:port) under `rules` (src/transport/endpoint.ts). */
export function parseHostPort(text: string, where: string, rules: EndpointRules): Endpoint {
  return parseEndpoint(text, rules, (problem) => new ConfigError(`${where}: ${problem}`));
}

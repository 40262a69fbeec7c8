/**
 * Reading a config file: the bytes (within a limit), the TOML, and the error every refusal is:
 * `ConfigError`, naming the file. What the file may hold is described as a schema
 * (./config-schema.ts) by the program that reads it (src/server/config.ts, src/client/config.ts).
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

/** A parsed config file and where it came from (for messages). */
export interface ConfigDocument {
  readonly source: string;
  readonly values: Record<string, unknown>;
}

/** Largest config file we read: configs are a few hundred bytes; anything huge is a mistake. */
const MAX_CONFIG_BYTES = 1024 * 1024;

export function loadTomlFile(path: string): ConfigDocument {
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

export function parseTomlText(text: string, source: string): ConfigDocument {
  try {
    return { source, values: parseToml(text) };
  } catch (err) {
    const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new ConfigError(`${source}: not valid TOML: ${message}`);
  }
}

/** "<file>: <key path>", where a message about that key starts. */
export function configWhere(document: ConfigDocument, keyPath: string): string {
  return `${document.source}: ${keyPath}`;
}

/** Parses "host:port" (IPv4, host name, or [IPv6]:port) under `rules` (src/transport/endpoint.ts). */
export function parseHostPort(text: string, where: string, rules: EndpointRules): Endpoint {
  return parseEndpoint(text, rules, (problem) => new ConfigError(`${where}: ${problem}`));
}

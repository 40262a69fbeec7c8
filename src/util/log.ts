/**
 * A small leveled logger: one line per meaningful event, to stderr, so stdout stays free for
 * command output. The level comes from LOG_LEVEL (error, warn, info, debug; default info).
 *
 *   2026-11-21T11:00:00.123Z INFO  server-1 won election epoch=5 score=12.3
 */
export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface Logger {
  error(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
  child(name: string): Logger;
  readonly level: LogLevel;
}

export function parseLogLevel(text: string | undefined, fallback: LogLevel = 'info'): LogLevel {
  if (text === undefined || text === '') return fallback;
  const lower = text.toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(lower)) return lower as LogLevel;
  throw new RangeError(
    `LOG_LEVEL=${JSON.stringify(text)} is not a level; use one of ${LOG_LEVELS.join(', ')}`,
  );
}

export function createLogger(
  name: string,
  options: { level?: LogLevel; write?: (line: string) => void } = {},
): Logger {
  const level = options.level ?? parseLogLevel(process.env.LOG_LEVEL);
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const threshold = LOG_LEVELS.indexOf(level);
  const emit = (at: LogLevel, message: string, fields?: LogFields): void => {
    if (LOG_LEVELS.indexOf(at) > threshold) return;
    write(
      `${new Date().toISOString()} ${at.toUpperCase().padEnd(5)} ${name} ${message}${formatFields(fields)}\n`,
    );
  };
  return {
    level,
    error: (message, fields) => emit('error', message, fields),
    warn: (message, fields) => emit('warn', message, fields),
    info: (message, fields) => emit('info', message, fields),
    debug: (message, fields) => emit('debug', message, fields),
    child: (childName) => createLogger(`${name}/${childName}`, { level, write }),
  };
}

function formatFields(fields: LogFields | undefined): string {
  if (!fields) return '';
  let out = '';
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    const text =
      typeof value === 'string' && /[\s"=]/.test(value) ? JSON.stringify(value) : String(value);
    out += ` ${key}=${text}`;
  }
  return out;
}

/**
 * Where a process listens or dials: one type and one parser for every `host:port` the program
 * reads (configs, command-line flags, environment variables, Welcome messages, run files).
 *
 *   host:port      host is an IPv4 address (1.2.3.4) or a DNS name (labels of a–z, 0–9, "-")
 *   [ipv6]:port    IPv6 addresses always in brackets ([::1]:8001); no zone ids
 *   port           1..65535; 0 ("any free port") only where the caller says so (`port0`):
 *                  an address to listen on may say 0, an address to dial never can.
 *
 * Pure (no node:*): the protocol's message checks and the browser can use it.
 */

export interface Endpoint {
  host: string;
  port: number;
}

export interface EndpointRules {
  /** `allowed` for an address to listen on (0 = let the OS pick), `refused` for one to dial. */
  port0: 'allowed' | 'refused';
}

export const DIAL: EndpointRules = { port0: 'refused' };
export const LISTEN: EndpointRules = { port0: 'allowed' };

/** Longest `host:port` text accepted (a 253-character DNS name, brackets, colon, port). */
export const ENDPOINT_MAX_CHARS = 262;

const HOST_NAME_LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/;

export function isIPv4(text: string): boolean {
  return IPV4.test(text);
}

/** An IPv6 literal without brackets or zone id (`::1`, `fe80::1`, `::ffff:1.2.3.4`). */
export function isIPv6(text: string): boolean {
  if (text.length < 2 || text.length > 45) return false;
  const halves = text.split('::');
  if (halves.length > 2) return false;
  const groupsOf = (part: string): string[] => (part === '' ? [] : part.split(':'));
  const head = groupsOf(halves[0] as string);
  const tail = halves.length === 2 ? groupsOf(halves[1] as string) : [];
  const all = [...head, ...tail];
  let slots = all.length;
  const last = all[all.length - 1];
  if (last !== undefined && last.includes('.')) {
    if (!isIPv4(last)) return false;
    all.pop();
    slots += 1; // an embedded IPv4 address takes two groups
  }
  if (!all.every((group) => HEX_GROUP.test(group))) return false;
  return halves.length === 2 ? slots <= 7 : slots === 8;
}

/** An IPv4 address or a DNS name (not an IPv6 literal: those go in brackets). */
export function isHostName(text: string): boolean {
  if (text.length === 0 || text.length > 253) return false;
  const labels = text.split('.');
  // All-numeric names are IPv4 addresses, and must be valid ones (no 999.1.1.1).
  if (labels.every((label) => /^\d+$/.test(label))) return isIPv4(text);
  return labels.every((label) => HOST_NAME_LABEL.test(label));
}

/** Null when `text` is a valid endpoint under `rules`, else what is wrong and what is allowed. */
export function endpointProblem(text: unknown, rules: EndpointRules): string | null {
  const result = parse(text, rules);
  return typeof result === 'string' ? result : null;
}

/** Parses `host:port` / `[ipv6]:port`; throws `make(problem)` when it is not one. */
export function parseEndpoint(
  text: unknown,
  rules: EndpointRules,
  make: (problem: string) => Error = (problem) => new TypeError(problem),
): Endpoint {
  const result = parse(text, rules);
  if (typeof result === 'string') throw make(result);
  return result;
}

/** The text form: `host:port`, IPv6 in brackets. */
export function formatEndpoint(endpoint: Endpoint): string {
  return endpoint.host.includes(':')
    ? `[${endpoint.host}]:${endpoint.port}`
    : `${endpoint.host}:${endpoint.port}`;
}

/** The ports `rules` allow, in words. */
export function portRule(rules: EndpointRules): string {
  return rules.port0 === 'allowed' ? '0..65535 (0: any free port)' : '1..65535';
}

/** A port alone (a `--port` flag) under `rules`; throws `make(problem)` when it is not one. */
export function parsePort(
  text: string,
  rules: EndpointRules,
  make: (problem: string) => Error = (problem) => new TypeError(problem),
): number {
  const port = portIn(text, rules);
  if (typeof port === 'string') throw make(`expected a port in ${portRule(rules)}`);
  return port;
}

/** The port, or why `text` is not one ('text' for not digits, 'range' for out of range). */
function portIn(text: string, rules: EndpointRules): number | 'text' | 'range' {
  if (!/^\d{1,5}$/.test(text)) return 'text';
  const port = Number(text);
  const min = rules.port0 === 'allowed' ? 0 : 1;
  return port < min || port > 65_535 ? 'range' : port;
}

function parse(text: unknown, rules: EndpointRules): Endpoint | string {
  const ports = portRule(rules);
  const expected = `expected host:port or [ipv6]:port with a port in ${ports}, e.g. "127.0.0.1:8001"`;
  if (typeof text !== 'string') return `not an address; ${expected}`;
  const shown = JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text);
  if (text.length > ENDPOINT_MAX_CHARS)
    return `${shown} is longer than ${ENDPOINT_MAX_CHARS} characters; ${expected}`;
  const colon = text.lastIndexOf(':');
  if (colon < 0) return `${shown} has no port; ${expected}`;
  const hostPart = text.slice(0, colon);
  const portPart = text.slice(colon + 1);
  let host: string;
  if (hostPart.startsWith('[') && hostPart.endsWith(']')) {
    host = hostPart.slice(1, -1);
    if (!isIPv6(host))
      return `${shown}: ${JSON.stringify(host)} is not an IPv6 address; ${expected}`;
  } else {
    if (hostPart.includes(':'))
      return `${shown}: put an IPv6 address in brackets, e.g. "[::1]:8001"; ${expected}`;
    host = hostPart;
    if (!isHostName(host))
      return `${shown}: ${JSON.stringify(host)} is not an IPv4 address or a host name; ${expected}`;
  }
  const port = portIn(portPart, rules);
  if (port === 'text') return `${shown}: the port must be a number; ${expected}`;
  if (port === 'range') return `${shown}: port ${Number(portPart)} is out of range; ${expected}`;
  return { host, port };
}

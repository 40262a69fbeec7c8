import { describe, expect, it } from 'vitest';
import {
  DIAL,
  ENDPOINT_MAX_CHARS,
  LISTEN,
  endpointProblem,
  formatEndpoint,
  isIPv6,
  parseEndpoint,
  parsePort,
} from '../../../src/transport/endpoint.js';

describe('parseEndpoint', () => {
  it.each([
    ['127.0.0.1:8001', '127.0.0.1', 8001],
    ['localhost:1', 'localhost', 1],
    ['server-2.example.org:65535', 'server-2.example.org', 65535],
    ['[::1]:8001', '::1', 8001],
    ['[fe80::1:2]:9000', 'fe80::1:2', 9000],
    ['[2001:db8:0:0:0:0:0:1]:443', '2001:db8:0:0:0:0:0:1', 443],
    ['[::ffff:192.0.2.1]:80', '::ffff:192.0.2.1', 80],
  ])('reads %s', (text, host, port) => {
    expect(parseEndpoint(text, DIAL)).toEqual({ host, port });
  });

  it('allows port 0 only for an address to listen on', () => {
    expect(parseEndpoint('127.0.0.1:0', LISTEN)).toEqual({ host: '127.0.0.1', port: 0 });
    expect(endpointProblem('127.0.0.1:0', DIAL)).toMatch(/port 0 is out of range.*1\.\.65535/);
  });

  it.each([
    ['127.0.0.1', /has no port/],
    ['127.0.0.1:', /port must be a number/],
    ['127.0.0.1:http', /port must be a number/],
    ['127.0.0.1:65536', /port 65536 is out of range/],
    ['127.0.0.1:123456', /port must be a number/],
    [':8001', /is not an IPv4 address or a host name/],
    ['a b:1', /is not an IPv4 address or a host name/],
    ['-bad.example:1', /is not an IPv4 address or a host name/],
    ['999.1.1.1:1', /is not an IPv4 address or a host name/],
    ['::1:8001', /put an IPv6 address in brackets/],
    ['[::1:8001', /put an IPv6 address in brackets/],
    ['[not:v6]:1', /is not an IPv6 address/],
    ['[1::2::3]:1', /is not an IPv6 address/],
    ['[fe80::1%eth0]:1', /is not an IPv6 address/],
    ['[1:2:3:4:5:6:7:8:9]:1', /is not an IPv6 address/],
    [`${'a'.repeat(ENDPOINT_MAX_CHARS)}:1`, /longer than/],
  ])('refuses %s, saying what is allowed', (text, problem) => {
    const message = endpointProblem(text, LISTEN);
    expect(message).toMatch(problem);
    expect(() => parseEndpoint(text, LISTEN)).toThrow(/host:port/);
  });

  it('refuses what is not text', () => {
    expect(endpointProblem(8001, DIAL)).toMatch(/not an address/);
    expect(endpointProblem(null, DIAL)).toMatch(/not an address/);
  });

  it('throws the caller’s error type', () => {
    class Mine extends Error {}
    expect(() => parseEndpoint('x', DIAL, (p) => new Mine(p))).toThrow(Mine);
  });

  it('formats back to text that parses to the same endpoint', () => {
    for (const text of ['127.0.0.1:8001', '[::1]:8001', 'host.example:2']) {
      expect(formatEndpoint(parseEndpoint(text, DIAL))).toBe(text);
    }
  });
});

describe('isIPv6', () => {
  it.each(['::', '::1', '1::', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:1.2.3.4', '::1.2.3.4'])(
    'accepts %s',
    (text) => expect(isIPv6(text)).toBe(true),
  );
  it.each([
    '',
    ':',
    '1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:8:9',
    '12345::',
    'g::',
    '1:2:3:4:5:6:7:1.2.3.4',
  ])('refuses %s', (text) => expect(isIPv6(text)).toBe(false));
});

describe('parsePort', () => {
  it('reads a port alone by the same rule as an address', () => {
    expect(parsePort('0', LISTEN)).toBe(0);
    expect(parsePort('65535', DIAL)).toBe(65535);
    expect(() => parsePort('0', DIAL)).toThrow(/expected a port in 1\.\.65535/);
    expect(() => parsePort('65536', LISTEN)).toThrow(/0\.\.65535/);
    expect(() => parsePort('80a', LISTEN)).toThrow(/expected a port/);
  });
});

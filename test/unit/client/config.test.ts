import { describe, expect, it } from 'vitest';
import { readClientConfig } from '../../../src/client/config.js';
import { resolveCloudTrust } from '../../../src/client/cloud-trust.js';
import { parseTomlText } from '../../../src/util/config-reader.js';

const FINGERPRINT = 'ab'.repeat(32);

function config(tls: string) {
  return readClientConfig(
    parseTomlText(
      `[client]\nname = "c1"\nserver_addresses = ["127.0.0.1:7001"]\n[tls]\n${tls}\n`,
      'client.toml',
    ),
    '/tmp',
  );
}

describe('client [tls] revoked', () => {
  it('reads revoked server fingerprints (colons allowed) into the trust the client dials with', () => {
    const withColons = FINGERPRINT.match(/../g)!.join(':').toUpperCase();
    const parsed = config(`ca_fingerprint = "${'cd'.repeat(32)}"\nrevoked = ["${withColons}"]`);
    expect(parsed.tls.revoked).toEqual([FINGERPRINT]);
    const trust = resolveCloudTrust(parsed.tls);
    expect(trust.revoked?.has(FINGERPRINT)).toBe(true);
  });

  it('refuses an entry that is not a fingerprint, naming it and what is allowed', () => {
    expect(() => config(`ca_fingerprint = "${'cd'.repeat(32)}"\nrevoked = ["server-3"]`)).toThrow(
      /tls\.revoked\[0\]: "server-3" is not a SHA-256 fingerprint \(64 hex digits/,
    );
  });

  it('has no revoked set when none is listed', () => {
    const trust = resolveCloudTrust(config(`ca_fingerprint = "${'cd'.repeat(32)}"`).tls);
    expect(trust.revoked).toBeUndefined();
  });
});

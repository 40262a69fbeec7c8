/**
 * What the agent's own files hold (identity.json, identity.pending.json, config.json,
 * agent.json), as schemas with their types derived. The agent wrote them, but a person may have
 * edited them, a disk may have damaged them, or an older version may have written them: they
 * are read back as outside input. Keys a newer version may add are ignored (Tolerant). Where the
 * files are and how they are written stays in data-dir.ts.
 */
import {
  HEX_32_BYTES_PATTERN,
  HEX_32_BYTES_RULE,
  PublicKeyHex,
  UserId,
  Username,
} from '../protocol/ids.js';
import {
  Tolerant,
  Int,
  List,
  Pattern,
  Strict,
  describeIssue,
  v,
  type Infer,
} from '../protocol/schema.js';
import { DIAL, portRule } from '../transport/endpoint.js';

/** Largest saved CA bundle (a few certificates). */
const MAX_SAVED_CA_CHARS = 32 * 1024;
const MAX_SAVED_SERVERS = 64;

const Seed = Pattern(HEX_32_BYTES_PATTERN, `${HEX_32_BYTES_RULE} (a private key seed)`);

/** An address as the agent saved it (parsed before it was saved; its host is not re-parsed). */
const SavedEndpoint = Tolerant({
  host: v.pipe(
    v.string('expected a host name or address'),
    v.minLength(1, 'expected a host name or address'),
    v.maxLength(253, 'expected a host name or address of at most 253 characters'),
  ),
  port: Int(1, 65_535, `a port ${portRule(DIAL)}`),
});

export const IdentityFile = Tolerant({
  username: Username,
  user_id: UserId,
  seed: Seed,
  public_key: PublicKeyHex,
});

/** A key being registered; anything else in its place reads as none. */
export const PendingIdentityFile = Tolerant({ username: v.string(), seed: Seed });

const CA_RULE = `{ "ca_pem": "<PEM certificate(s), at most ${MAX_SAVED_CA_CHARS} characters>" } or { "ca_fingerprint": "<64 lowercase hex>" }`;

const CloudCaShapes = v.union([
  Strict({
    ca_pem: v.pipe(
      v.string(),
      v.maxLength(MAX_SAVED_CA_CHARS),
      v.includes('-----BEGIN CERTIFICATE-----'),
    ),
  }),
  Strict({ ca_fingerprint: v.pipe(v.string(), v.regex(HEX_32_BYTES_PATTERN)) }),
]);
/**
 * The cloud's CA certificate (PEM) or its SHA-256 fingerprint, saved at register/login so an
 * agent on any machine trusts the cloud it registered with.
 */
export type SavedCloudCa = Infer<typeof CloudCaShapes>;
/** One refusal sentence for both shapes (a union would name whichever shape came closest). */
const SavedCloudCa = v.custom<SavedCloudCa>(
  (value) => v.is(CloudCaShapes, value),
  `expected ${CA_RULE}`,
);

export const SettingsFile = Tolerant({
  servers: List(SavedEndpoint, MAX_SAVED_SERVERS, 1),
  /** Absent in files of versions that knew one cloud only. */
  cluster_id: v.optional(v.nullable(Int(1, Number.MAX_SAFE_INTEGER, 'a positive integer'), 1), 1),
  /** Absent: written by an older version; then CLOUDP2P_CLOUD_CA or the local cloud's CA is
   * used and saved at sign-in. */
  cloud_ca: v.optional(SavedCloudCa),
});
export type AgentSettings = Infer<typeof SettingsFile>;

/** Written by `peer start` while it runs; anything it does not recognise reads as no agent. */
export const AgentInfoFile = Tolerant({
  pid: Int(1, Number.MAX_SAFE_INTEGER),
  api: SavedEndpoint,
  token: Pattern(HEX_32_BYTES_PATTERN, `${HEX_32_BYTES_RULE} (the API token)`),
  /** Null when the agent has no P2P listener (or the entry cannot be read). */
  p2p: v.fallback(v.nullable(SavedEndpoint), null),
  started_at_ms: v.fallback(v.number(), 0),
});
export type RunningAgentInfo = Infer<typeof AgentInfoFile>;

/** "<key> must be <what is allowed>" for a refusal of one of these schemas. */
export function fileProblem(issue: v.BaseIssue<unknown>): string {
  return describeIssue(issue).replace(/: (missing; )?expected /, ' must be ');
}

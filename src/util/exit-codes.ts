/** The process exit codes of the `cloudp2p` command (browser-safe: no imports). */

/** Exit codes the CLI promises to scripts. Documented in README.md ("Exit codes"). */
export const ExitCode = {
  ok: 0,
  /** Something failed that is not one of the cases below (network, I/O, a bug). */
  failure: 1,
  /** The command line itself is wrong: unknown flag, missing argument, bad value. */
  usage: 2,
  /** An input file is not acceptable: not an image, truncated, too large, unsupported. */
  badInput: 3,
  /** The image carries no hidden payload. */
  noPayload: 4,
  /** The image carries a payload but it fails its integrity check. */
  corrupted: 5,
  /** The payload does not fit in the cover. */
  capacity: 6,
  /** Access refused: wrong viewer, quota used up, bad signature. */
  denied: 7,
  /** A service could not be reached in time (cloud, peer, database). */
  unavailable: 8,
  /** A signed record (an image's access rights) does not verify with the key it names. */
  signatureInvalid: 9,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

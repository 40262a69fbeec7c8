#!/usr/bin/env node
/**
 * The `cloudp2p` command. Each subcommand lives in ./commands and registers itself on the
 * program; only the one being run is imported (./commands/index.ts). This file wires them up
 * and turns errors into exit codes.
 */
import { Command, CommanderError } from 'commander';
import { CloudP2PError, ExitCode } from '../util/errors.js';
import { readPackageVersion } from '../util/package-info.js';
import { printable } from '../util/printable.js';
import { registerCommands } from './commands/index.js';

/** An argument value longer than this is cut when an error message repeats it. */
export const MAX_ECHOED_CHARS = 60;

/**
 * Commander's error message with every quoted argument value made printable and, when long,
 * cut and its length named: a 5000-character name is refused in one short line that still
 * says what is allowed.
 */
export function shortenEchoes(message: string): string {
  return message.replace(/'([^']*)'/g, (_quoted, value: string) =>
    value.length > MAX_ECHOED_CHARS
      ? `'${printable(value.slice(0, MAX_ECHOED_CHARS))}…' (${value.length} characters)`
      : `'${printable(value)}'`,
  );
}

/**
 * A reader that stops early (`cloudp2p lab --help | head -1`) closes our stdout: that is not
 * an error of ours, so end quietly (exit 0) instead of dying on an unhandled EPIPE.
 */
export function exitQuietlyOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(ExitCode.ok);
    throw err;
  });
}

/** The program for `argv`: the command it names is loaded in full, the others by name only. */
export async function buildProgram(argv: readonly string[]): Promise<Command> {
  const program = new Command();
  program
    .name('cloudp2p')
    .description(
      'A fault-tolerant cloud that hides images by steganography, and peer agents that share them with view limits.',
    )
    .version(readPackageVersion())
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      outputError: (message, write) => write(shortenEchoes(message)),
    })
    .exitOverride();
  await registerCommands(program, argv);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    const program = await buildProgram(argv);
    await program.parseAsync(argv, { from: 'user' });
    // A command that finished but failed in part (a load run with failed requests, an
    // interrupted stress run) sets process.exitCode itself: keep it.
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok;
  } catch (err) {
    return reportError(err);
  }
}

function reportError(err: unknown): number {
  if (err instanceof CommanderError) {
    // Commander already printed the message (or the help/version text).
    if (
      err.code === 'commander.helpDisplayed' ||
      err.code === 'commander.version' ||
      err.code === 'commander.help'
    ) {
      return ExitCode.ok;
    }
    return ExitCode.usage;
  }
  if (err instanceof CloudP2PError) {
    process.stderr.write(`cloudp2p: ${err.message}\n`);
    return err.exitCode;
  }
  const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`cloudp2p: unexpected error (please report this): ${detail}\n`);
  return ExitCode.failure;
}

const invokedDirectly =
  process.argv[1] !== undefined &&
  import.meta.url === (await import('node:url')).pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  exitQuietlyOnClosedPipe(process.stdout);
  exitQuietlyOnClosedPipe(process.stderr);
  process.exitCode = await main(process.argv.slice(2));
}

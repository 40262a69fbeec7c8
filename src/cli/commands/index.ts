/**
 * Every subcommand of `cloudp2p`, and which module registers it. A module is imported only
 * when its command runs (or its own --help is asked for): importing all of them costs every
 * command, even `--help`, most of a second (bench/cli.ts). The top-level help lists the
 * commands from this table alone.
 */
import { Help, type Command } from 'commander';

type Registration = (program: Command) => void;

export interface CommandEntry {
  name: string;
  /** How the command line looks in the top-level help, e.g. `encrypt [options] <image>`. */
  term: string;
  description: string;
  load(): Promise<Registration>;
}

export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'stego',
    term: 'stego',
    description: 'hide an image (and its access rights) in a cover image, or read it back',
    load: async () => (await import('./stego.js')).registerStegoCommands,
  },
  {
    name: 'demo',
    term: 'demo [options]',
    description: 'run a short local demo of the steganography engine',
    load: async () => (await import('./demo.js')).registerDemoCommand,
  },
  {
    name: 'server',
    term: 'server [options]',
    description: 'run one cloud server (leader election, load balancing, encryption workers)',
    load: async () => (await import('./server.js')).registerServerCommand,
  },
  {
    name: 'cluster',
    term: 'cluster',
    description: "the cloud's keys: a CA and a certificate per server (docs/SECURITY.md)",
    load: async () => (await import('./cluster.js')).registerClusterCommand,
  },
  {
    name: 'encrypt',
    term: 'encrypt [options] <image>',
    description:
      'hide an image in the default cover through the cloud, verify it, and save the PNG',
    load: async () => (await import('./encrypt.js')).registerEncryptCommand,
  },
  {
    name: 'client',
    term: 'client [options]',
    description:
      'run a load client: encryption requests at a fixed rate, with a summary and per-request records',
    load: async () => (await import('./client.js')).registerClientCommand,
  },
  {
    name: 'start',
    term: 'start [options]',
    description:
      'start the local cloud (three servers from config/), wait for a leader, and show how to use it',
    load: async () => (await import('./start.js')).registerStartCommand,
  },
  {
    name: 'stress',
    term: 'stress [options]',
    description:
      'stress and failure campaign: many clients against a cloud started for the run, failures injected, every result verified, report written',
    load: async () => (await import('./stress.js')).registerStressCommand,
  },
  {
    name: 'report',
    term: 'report [options] <run-dir>',
    description: 'write the report (Markdown, JSON, SVG charts) of a stress run directory',
    load: async () => (await import('./report.js')).registerReportCommand,
  },
  {
    name: 'peer',
    term: 'peer [options]',
    description: 'share images with view limits: your agent, requests, grants and viewing',
    load: async () => (await import('./peer/index.js')).registerPeerCommand,
  },
  {
    name: 'lab',
    term: 'lab [options]',
    description:
      'the six-host lab on one Linux machine (root): start, show, kill, cut, heal, revive, campaign, down',
    load: async () => (await import('./lab.js')).registerLabCommand,
  },
];

/** The command `argv` runs (`cloudp2p help <command>` included), if it names one. */
export function commandNamedIn(argv: readonly string[]): CommandEntry | undefined {
  const words = argv.filter((arg) => !arg.startsWith('-'));
  const name = words[0] === 'help' ? words[1] : words[0];
  return COMMANDS.find((entry) => entry.name === name);
}

/**
 * Registers the command `argv` runs, fully; every other command only by name and description,
 * enough for the top-level help and for commander's "unknown command" suggestions.
 */
export async function registerCommands(program: Command, argv: readonly string[]): Promise<void> {
  const chosen = commandNamedIn(argv);
  for (const entry of COMMANDS) {
    if (entry === chosen) (await entry.load())(program);
    else program.command(entry.name).description(entry.description);
  }
  const standard = new Help();
  program.configureHelp({
    subcommandTerm: (command) =>
      COMMANDS.find((entry) => entry.name === command.name() && entry !== chosen)?.term ??
      standard.subcommandTerm(command),
  });
}

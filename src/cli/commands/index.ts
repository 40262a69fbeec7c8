/**
 * Every subcommand of `cloudp2p`. Each module exports a `register*` function that adds
 * its command (with its own --help) to the program.
 */
import type { Command } from 'commander';
import { registerClientCommand } from './client.js';
import { registerClusterCommand } from './cluster.js';
import { registerDemoCommand } from './demo.js';
import { registerEncryptCommand } from './encrypt.js';
import { registerLabCommand } from './lab.js';
import { registerPeerCommand } from './peer.js';
import { registerReportCommand } from './report.js';
import { registerServerCommand } from './server.js';
import { registerStartCommand } from './start.js';
import { registerStegoCommands } from './stego.js';
import { registerStressCommand } from './stress.js';

type Registration = (program: Command) => void;

const registrations: Registration[] = [
  registerStegoCommands,
  registerDemoCommand,
  registerServerCommand,
  registerClusterCommand,
  registerEncryptCommand,
  registerClientCommand,
  registerStartCommand,
  registerStressCommand,
  registerReportCommand,
  registerPeerCommand,
  registerLabCommand,
];

export function registerAllCommands(program: Command): void {
  for (const register of registrations) register(program);
}

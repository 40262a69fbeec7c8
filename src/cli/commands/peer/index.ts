/**
 * `cloudp2p peer …`: the user's side of the product, one subcommand per use case (docs/SHARING.md).
 * Commands talk to the user's running agent (`peer start` / `peer login`) through its local API;
 * when none runs they run one-shot in this process and say what that means (images can only be
 * received by a running agent). The commands are registered by topic (agent.ts, images.ts,
 * sharing.ts, ../peer-ui.ts); what a command needs beyond that is imported when it runs.
 */
import type { Command } from 'commander';
import { registerPeerUiCommand } from '../peer-ui.js';
import { registerAgentCommands } from './agent.js';
import { registerImageCommands } from './images.js';
import { registerSharingCommands } from './sharing.js';

export function registerPeerCommand(program: Command): void {
  const peer = program
    .command('peer')
    .description('share images with view limits: your agent, requests, grants and viewing')
    .option(
      '-d, --data-dir <dir>',
      'your data directory (default: $CLOUDP2P_HOME or ~/.cloudp2p/<user>)',
    )
    .option('-u, --user <name>', 'use ~/.cloudp2p/<name> as the data directory')
    .option(
      '--servers <list>',
      'cloud server addresses, comma-separated (default: saved at register, $CLOUDP2P_SERVERS, or the local cloud)',
    )
    .option(
      '--cloud-ca <file>',
      "the cloud's CA certificate (saved at register and sign-in; default: the saved one, $CLOUDP2P_CLOUD_CA, or the local cloud's)",
    )
    .option('--cloud-fingerprint <sha256>', "or the SHA-256 fingerprint of the cloud's CA")
    .option('--json', 'print JSON instead of text')
    .addHelpText(
      'after',
      '\nExit codes: 0 ok, 2 usage, 3 bad input or unknown image/user, 5 damaged file, 7 access refused (default image shown), 8 cloud, directory or peer unreachable.',
    );
  registerAgentCommands(peer);
  registerImageCommands(peer);
  registerSharingCommands(peer);
  registerPeerUiCommand(peer);
}

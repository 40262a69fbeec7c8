/**
 * `peer register`, `start`, `login`, `logout`, `status` and `sync`: the user's identity and agent.
 * Starting and stopping the agent (./agent-run.ts) is imported only when one of those runs.
 */
import type { Command } from 'commander';
import type { StartOptions } from './agent-run.js';
import { count } from '../../../util/words.js';
import { USERNAME_RULE } from '../../../protocol/ids.js';
import { parseListenPort, parseUsername } from './parse.js';
import { globals, output, say, withAgent } from './session.js';

export function registerAgentCommands(peer: Command): void {
  peer
    .command('register')
    .description('use case 1: create your key and register a username (globally unique id)')
    .argument('<username>', USERNAME_RULE, parseUsername)
    .action(async (username: string, _o, command: Command) =>
      (await import('./agent-run.js')).runRegister(username, globals(command)),
    );

  const startOptions = (command: Command): Command =>
    command
      .option('--listen <host>', 'address the P2P listener binds to', '127.0.0.1')
      .option('--advertise <host>', 'address other users reach you at (default: --listen)')
      .option('--api-port <port>', 'local API port (0: any free port)', parseListenPort, 0);

  startOptions(
    peer
      .command('start')
      .description('use case 2: run your agent in the foreground (signs in; Ctrl-C signs out)'),
  ).action(async (_o, command: Command) =>
    (await import('./agent-run.js')).runStart(globals(command) as StartOptions),
  );

  startOptions(
    peer
      .command('login')
      .description('use case 2: sign in by starting your agent in the background'),
  ).action(async (_o, command: Command) =>
    (await import('./agent-run.js')).runLogin(globals(command) as StartOptions),
  );

  peer
    .command('logout')
    .description('use case 10: sign out and stop your agent')
    .action(async (_o, command: Command) =>
      (await import('./agent-run.js')).runLogout(globals(command)),
    );

  peer
    .command('status')
    .description('who you are, whether your agent runs, what waits')
    .action(async (_o, command: Command) => {
      const options = globals(command);
      await withAgent(options, async (ops) => {
        const status = await ops.status();
        // Requests wait in the directory: asked only of an agent that is online (a one-shot
        // status stays offline and quick).
        const pending =
          status.mode === 'running' && status.online
            ? await ops.requests('owner', 'pending').then(
                (requests) => requests.length,
                () => null,
              )
            : null;
        output(options, { ...status, pending_requests: pending }, () => {
          say(
            `${status.username} (${status.user_id}): ${status.mode === 'running' ? (status.online ? 'online' : 'agent running, directory unreachable') : 'no agent running (offline)'}`,
          );
          if (status.p2p) say(`  peers reach you at ${status.p2p.host}:${status.p2p.port}`);
          const { own_images, received, copies_waiting_for_delivery: waiting } = status.counts;
          say(
            `  ${count(own_images, 'own image')}, ${received} received, ${count(waiting, 'copy or update', 'copies or updates')} waiting for viewers`,
          );
          say(
            pending === null
              ? '  requests to you: unknown while offline (`cloudp2p peer login`, then `peer inbox`)'
              : `  ${count(pending, 'request')} to you waiting for an answer${pending > 0 ? ' (`cloudp2p peer inbox`)' : ''}`,
          );
          say(`  data: ${status.data_dir}; cloud: ${status.servers.join(', ')}`);
        });
      });
    });

  peer
    .command('sync')
    .description('rebuild your permissions from the directory and catch up on what waits')
    .action(async (_o, command: Command) => {
      const options = globals(command);
      await withAgent(options, async (ops) => {
        const report = await ops.sync();
        output(options, report, () =>
          say(
            `synced: ${report.grants_as_owner} grants given, ${report.grants_as_viewer} received, ${report.copies_built} copies made, ${report.copies_fetched} fetched, ${report.updates_applied} updates applied, ${report.images_offered} images offered again`,
          ),
        );
      });
    });
}

/**
 * `cloudp2p start` (what `npm start` runs): starts the local cloud — three servers from
 * config/server1..3.toml — waits until they agree on a leader, prints where to look and what
 * to run, and on Ctrl-C stops every server cleanly, leaving no process behind.
 */
import { relative } from 'node:path';
import type { Command } from 'commander';
import { LocalCluster } from '../../server/local-cluster.js';
import { packagePath } from '../../util/package-info.js';
import { writeLocalClientConfig } from '../local-client-config.js';

interface StartOptions {
  configs?: string[];
  failureSimulation?: boolean;
  quiet?: boolean;
}

async function runStart(options: StartOptions): Promise<void> {
  const configs =
    options.configs && options.configs.length > 0
      ? options.configs
      : [1, 2, 3].map((n) => packagePath('config', `server${n}.toml`));
  const say = (line: string): void => void process.stdout.write(`${line}\n`);
  // On by default: the first run makes the keys the configs name (cloudp2p cluster init).
  for (const dir of await LocalCluster.ensureKeys(configs))
    say(`made the cloud's keys in ${dir} (a CA and a certificate per server; docs/SECURITY.md)`);
  const cluster = LocalCluster.fromConfigs(
    configs,
    packagePath('.cloudp2p', 'logs'),
    options.quiet ? {} : { echo: process.stderr },
  );
  let stopping = false;
  const stopEverything = async (why: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    say(`\n${why}: stopping ${cluster.members.length} servers...`);
    await cluster.stopAll(10_000);
    say('all servers stopped.');
  };
  process.once('SIGINT', () => void stopEverything('Ctrl-C').then(() => process.exit(0)));
  process.once('SIGTERM', () => void stopEverything('SIGTERM').then(() => process.exit(0)));

  say(
    `starting the local cloud: ${cluster.members.map((m) => `server ${m.id} on ${m.address}`).join(', ')}`,
  );
  await cluster.startAll(options.failureSimulation ? ['--failure-simulation'] : []);
  let elected;
  try {
    elected = await cluster.waitForLeader(20_000);
  } catch (err) {
    await stopEverything('the servers did not agree on a leader');
    throw err;
  }
  const servers = cluster.addresses.join(',');
  say('');
  say(
    `the cloud is up: server ${elected.leader} leads (agreed in ${Math.round(elected.elapsed_ms)} ms).`,
  );
  say('live dashboards, status (JSON) and metrics (Prometheus):');
  for (const member of cluster.members) {
    say(
      `  server ${member.id}: ${member.httpUrl}/   ${member.httpUrl}/status   ${member.httpUrl}/metrics`,
    );
  }
  say('');
  say('encrypt an image through the cloud (in another terminal):');
  say(
    `  node dist/cli/main.js encrypt assets/samples/photo.jpg --out photo.stego.png --servers ${servers}`,
  );
  if (cluster.caPath)
    say(
      `  (TLS: clients trust ${cluster.caPath}; elsewhere pass --cloud-ca <that file> or --cloud-fingerprint)`,
    );
  say('then read it back:');
  say('  node dist/cli/main.js stego extract photo.stego.png -o photo.hidden.jpg');
  say('share images between users with view limits (each command in another terminal):');
  for (const line of peerWalkthrough(servers)) say(`  ${line}`);
  // config/client1.toml names the default ports; this file names the ones started here.
  const clientConfig = relative(
    process.cwd(),
    writeLocalClientConfig(cluster.addresses, cluster.caPath),
  );
  say('load test (the seed client config, for the servers started here):');
  say(`  node dist/cli/main.js client --config ${clientConfig}`);
  say('');
  say(`logs: ${packagePath('.cloudp2p', 'logs')}   press Ctrl-C to stop everything.`);
  // Stay up until a signal arrives; report servers that die on their own.
  const reported = new Set<number>();
  await new Promise<void>(() => {
    setInterval(() => {
      if (stopping) return;
      for (const member of cluster.members) {
        if (cluster.isRunning(member.id) || reported.has(member.id)) continue;
        reported.add(member.id);
        say(`server ${member.id} exited (see its log); Ctrl-C stops the rest`);
      }
    }, 1000);
  });
}

/** The peer use cases, in order, for the cloud at `servers` (saved at register). */
export function peerWalkthrough(servers: string): string[] {
  const cli = 'node dist/cli/main.js peer';
  return [
    `${cli} register alice --servers ${servers} && ${cli} -u alice login`,
    `${cli} register bob --servers ${servers} && ${cli} -u bob login`,
    `${cli} -u alice encrypt assets/samples/photo.jpg          (prints the image id)`,
    `${cli} -u bob peers && ${cli} -u bob request alice <image_id> --views 3`,
    `${cli} -u alice inbox && ${cli} -u alice accept <request_id>`,
    `${cli} -u bob view alice/<image_id> -o seen.jpg           (uses one view)`,
    `or in a browser: ${cli} ui`,
  ];
}

export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description(
      'start the local cloud (three servers from config/), wait for a leader, and show how to use it',
    )
    .option(
      '--configs <files...>',
      'server config files to start instead of config/server1..3.toml',
    )
    .option('--failure-simulation', 'enable the built-in failure simulation on every server')
    .option('--quiet', "do not echo the servers' log lines")
    .action(async (options: StartOptions) => {
      await runStart(options);
    });
}

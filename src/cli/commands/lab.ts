/**
 * `cloudp2p lab`: the course topology on one Linux machine (root): three cloud hosts (a server
 * and a Galera node each) and three user hosts (many agents each), each a network namespace
 * with its own address on one bridge. Start it, show it, kill, cut off, heal and revive whole
 * hosts, run the sharing campaign across it, and take it all down (src/lab).
 */
import { basename } from 'node:path';
import { Option, type Command } from 'commander';
import { Lab, type LabView } from '../../lab/lab.js';
import {
  DEFAULT_AGENTS_PER_HOST,
  MAX_AGENTS_PER_HOST,
  parseLabNumber,
} from '../../lab/topology.js';
import { UserHost } from '../../lab/user-host.js';
import { defaultImagePaths, expandImagePaths } from '../../stress/images.js';
import { parseDuration } from '../../stress/spec.js';
import { UsageError } from '../../util/errors.js';

interface LabGlobals {
  lab: number;
  json?: boolean;
}

const say = (line: string): void => void process.stderr.write(`${line}\n`);

function agentsPerHost(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_AGENTS_PER_HOST)
    throw new UsageError(`--agents must be a whole number 1..${MAX_AGENTS_PER_HOST}, not ${value}`);
  return n;
}

/** `interval=60s,max-silence=20s` (either key may be left out). */
export function parseFailureSimulation(text: string): {
  interval_secs: number;
  max_silence_secs: number;
} {
  const out = { interval_secs: 60, max_silence_secs: 20 };
  for (const part of text.split(',').filter((p) => p.trim() !== '')) {
    const [key, value] = part.split('=').map((s) => s.trim());
    if (key === 'interval')
      out.interval_secs = parseDuration(value ?? '', '--failure-simulation interval') / 1000;
    else if (key === 'max-silence')
      out.max_silence_secs = parseDuration(value ?? '', '--failure-simulation max-silence') / 1000;
    else
      throw new UsageError(
        `--failure-simulation: unknown key ${key}; use interval=… and max-silence=…`,
      );
  }
  if (out.interval_secs <= out.max_silence_secs + 3)
    throw new UsageError('--failure-simulation: interval must exceed max-silence by more than 3 s');
  return out;
}

export function renderLabView(view: LabView): string {
  const lines = [
    `lab ${view.lab} (${view.status}): ${view.subnet} on bridge ${view.bridge}; directory on ${view.directory}; leader ${view.leader ?? 'none agreed'}`,
    `folder ${view.dir}`,
    '',
  ];
  for (const host of view.hosts) {
    const dead = host.processes.filter((p) => !p.running).map((p) => p.role);
    let detail: string;
    if (host.server) {
      const s = host.server;
      detail = `server ${s.id}: ${s.role ?? 'not answering'}${s.role ? `, leader ${s.leader ?? '?'}, epoch ${s.epoch}` : ''}; ${host.database ?? ''}; dashboard ${s.dashboard}`;
    } else
      detail = host.agents
        ? `${host.agents.online} of ${host.agents.total} agents signed in`
        : 'agents not answering';
    if (dead.length > 0 && host.state !== 'killed') detail += `; NOT RUNNING: ${dead.join(', ')}`;
    lines.push(
      `${host.name.padEnd(8)} ${host.address.padEnd(14)} ${host.state.padEnd(7)} ${detail}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

export function registerLabCommand(program: Command): void {
  const lab = program
    .command('lab')
    .description(
      'the six-host lab on one Linux machine (root): start, show, kill, cut, heal, revive, campaign, down',
    )
    .addOption(
      new Option('--lab <n>', 'which lab (1-99): subnet 198.19.<n>.0/24, names cp2plab<n>-…')
        .argParser(parseLabNumber)
        .default(1),
    )
    .option('--json', 'print JSON instead of text')
    .addHelpText(
      'after',
      `
Hosts: cloud-1..3 (a cloudp2p server and a MariaDB Galera node each), users-1..3 (peer agents).
Dashboards are reachable from this machine at http://198.19.<n>.1<i>:8000/ .
Exit codes: 0 ok, 1 failure, 2 usage (also: not root / not Linux / ip or iptables missing).`,
    );
  const globals = (command: Command): LabGlobals => command.optsWithGlobals<LabGlobals>();
  const print = (options: LabGlobals, view: LabView): void =>
    void process.stdout.write(options.json ? `${JSON.stringify(view)}\n` : renderLabView(view));

  lab
    .command('start')
    .description('build the network and start every host')
    .option(
      '--agents <n>',
      `agents per user host (1-${MAX_AGENTS_PER_HOST})`,
      agentsPerHost,
      DEFAULT_AGENTS_PER_HOST,
    )
    .addOption(
      new Option(
        '--directory <kind>',
        'directory database: galera (one node per cloud host) or sqlite (a shared file; stop-gap)',
      )
        .choices(['galera', 'sqlite'])
        .default('sqlite'),
    )
    .option(
      '--failure-simulation [spec]',
      'the servers run the course failure simulation: interval=60s,max-silence=20s',
    )
    .option(
      '--images <paths...>',
      'images the workload encrypts (files or folders; default assets/samples)',
    )
    .action(
      async (
        o: {
          agents: number;
          directory: 'galera' | 'sqlite';
          failureSimulation?: string | true;
          images?: string[];
        },
        command: Command,
      ) => {
        const g = globals(command);
        const files = expandImagePaths(o.images ?? defaultImagePaths());
        const started = await Lab.start({
          lab: g.lab,
          agents_per_host: o.agents,
          directory: o.directory,
          failure_simulation:
            o.failureSimulation === undefined
              ? null
              : parseFailureSimulation(o.failureSimulation === true ? '' : o.failureSimulation),
          images: files.map((path) => ({ name: basename(path), path })),
          log: say,
        });
        print(g, await started.show());
      },
    );

  lab
    .command('show')
    .description('hosts, roles, leader, database state, dashboards')
    .action(async (_o, command: Command) => {
      const g = globals(command);
      print(g, await Lab.open(g.lab).show());
    });

  lab
    .command('kill')
    .description('kill -9 every process on a host (server and database node, or all its agents)')
    .argument('<host>', 'cloud-1..3 or users-1..3')
    .action(async (host: string, _o, command: Command) => {
      const pids = await Lab.open(globals(command).lab).kill(host);
      say(
        `${host}: killed ${pids.length} processes (${pids.join(', ')}); bring it back with cloudp2p lab revive ${host}`,
      );
    });

  lab
    .command('revive')
    .description('start a killed host again (its database node rejoins and catches up)')
    .argument('<host>')
    .action(async (host: string, _o, command: Command) => {
      const opened = Lab.open(globals(command).lab);
      await opened.revive(host);
      say(`${host}: started again`);
    });

  lab
    .command('cut')
    .description('cut a host off the network (every packet to and from it dropped)')
    .argument('<host>')
    .action(async (host: string, _o, command: Command) => {
      await Lab.open(globals(command).lab).cut(host);
      say(`${host}: cut off; undo with cloudp2p lab heal ${host}`);
    });

  lab
    .command('heal')
    .description('reconnect a host that was cut off')
    .argument('<host>')
    .action(async (host: string, _o, command: Command) => {
      await Lab.open(globals(command).lab).heal(host);
      say(`${host}: connected again`);
    });

  lab
    .command('down')
    .description(
      'stop every process and remove namespaces, links, routes, folders (also after a killed driver)',
    )
    .option('--keep-files', "keep the lab's folder (configs, logs, data)")
    .action(async (o: { keepFiles?: boolean }, command: Command) => {
      const done = await Lab.down(globals(command).lab, say, o.keepFiles === true);
      if (done.length === 0) say(`lab ${globals(command).lab}: nothing to remove`);
    });

  lab
    .command('user-host', { hidden: true })
    .description(
      '(internal) run the agents of one user host; started by the lab inside its namespace',
    )
    .argument('<dir>', "the host's folder (host.json)")
    .action(async (dir: string) => {
      const host = UserHost.fromDir(dir);
      await host.serve();
      await host.start();
      await new Promise(() => undefined); // serve until SIGTERM or /stop
    });
}

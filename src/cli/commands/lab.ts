/**
 * `cloudp2p lab`: the course topology on one Linux machine (root): three cloud hosts (a server
 * and a Galera node each) and three user hosts (many agents each), each a network namespace
 * with its own address on one bridge. Start it, show it, kill, cut off, heal and revive whole
 * hosts, run the sharing campaign across it, and take it all down (src/lab).
 */
import { basename, join } from 'node:path';
import { Option, type Command } from 'commander';
import { LabCampaign } from '../../lab/campaign.js';
import { parseHostFault, type HostFault } from '../../lab/inject.js';
import { Lab, type LabStartOptions, type LabView } from '../../lab/lab.js';
import { DEFAULT_WORKLOAD } from '../../lab/workload.js';
import { writeReport } from '../../report/render.js';
import {
  DEFAULT_AGENTS_PER_HOST,
  MAX_AGENTS_PER_HOST,
  parseLabNumber,
} from '../../lab/topology.js';
import { UserHost } from '../../lab/user-host.js';
import { defaultImagePaths, expandImagePaths } from '../../stress/images.js';
import { parseDuration } from '../../stress/spec.js';
import { ExitCode, UsageError } from '../../util/errors.js';
import { parsePositiveInteger, parsePositiveNumber } from '../options.js';
import { ProgressLine } from '../progress.js';

interface StartCliOptions {
  userHosts: number;
  agents: number;
  directory: 'galera' | 'sqlite';
  failureSimulation?: string | true;
  images?: string[];
}

interface CampaignCliOptions extends StartCliOptions {
  ops?: number;
  duration?: string;
  rate: number;
  maxInFlight: number;
  inject: HostFault[];
  seed?: number;
  settle: string;
  out?: string;
  keepLab?: boolean;
  report: boolean;
}

function withStartOptions(command: Command): Command {
  return command
    .option('--user-hosts <n>', 'user hosts (1-3)', bounded(3, '--user-hosts'), 3)
    .option(
      '--agents <n>',
      `agents per user host (1-${MAX_AGENTS_PER_HOST})`,
      agentsPerHost,
      DEFAULT_AGENTS_PER_HOST,
    )
    .addOption(
      new Option(
        '--directory <kind>',
        'directory database: galera (one node per cloud host, as on real machines) or sqlite (one file shared by the servers; not replicated)',
      )
        .choices(['galera', 'sqlite'])
        .default('galera'),
    )
    .option(
      '--failure-simulation [spec]',
      'the servers run the course failure simulation: interval=60s,max-silence=20s',
    )
    .option(
      '--images <paths...>',
      'images the workload encrypts (files or folders; default assets/samples)',
    );
}

function labStartOptions(o: StartCliOptions): Omit<LabStartOptions, 'lab' | 'log'> {
  const files = expandImagePaths(o.images ?? defaultImagePaths());
  return {
    user_hosts: o.userHosts,
    agents_per_host: o.agents,
    directory: o.directory,
    failure_simulation:
      o.failureSimulation === undefined
        ? null
        : parseFailureSimulation(o.failureSimulation === true ? '' : o.failureSimulation),
    images: files.map((path) => ({ name: basename(path), path })),
  };
}

function bounded(max: number, what: string): (value: string) => number {
  return (value) => {
    const n = parsePositiveInteger(value);
    if (n > max) throw new UsageError(`${what} must be at most ${max}, got ${n}`);
    return n;
  };
}

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

  withStartOptions(
    lab.command('start').description('build the network and start every host'),
  ).action(async (o: StartCliOptions, command: Command) => {
    const g = globals(command);
    const started = await Lab.start({ ...labStartOptions(o), lab: g.lab, log: say });
    print(g, await started.show());
  });

  withStartOptions(
    lab
      .command('campaign')
      .description(
        'the sharing workload across the lab while whole hosts fail; every operation recorded and checked, report written',
      )
      .option('--ops <n>', 'stop after this many operations', bounded(10_000_000, '--ops'))
      .option('--duration <time>', 'stop after this long (e.g. 10m)')
      .option('--rate <n>', 'operations per second, over all agents', parsePositiveNumber, 5)
      .option(
        '--max-in-flight <n>',
        'operations at once at most',
        bounded(1000, '--max-in-flight'),
        16,
      )
      .option(
        '--inject <spec>',
        'kill:host=cloud-2,at=60s,revive-after=60s | cut:host=cloud-3,at=150s,for=20s (repeatable; host may be leader or follower)',
        (v: string, previous: HostFault[]) => [...previous, parseHostFault(v)],
        [] as HostFault[],
      )
      .option(
        '--seed <n>',
        'seed of the workload (which operations, which agents)',
        parsePositiveInteger,
      )
      .option('--settle <time>', 'how long the end may wait for every delivery', '180s')
      .option('--out <dir>', 'run directory (default runs/lab-<time>)')
      .option('--keep-lab', 'leave a lab this campaign started running at the end')
      .option('--no-report', 'do not write the report'),
  ).action(async (o: CampaignCliOptions, command: Command) => {
    const g = globals(command);
    if (o.ops === undefined && o.duration === undefined)
      throw new UsageError('say how long: --ops <n> or --duration <time> (or both)');
    const runDir = o.out ?? join('runs', `lab-${new Date().toISOString().replace(/[:.]/g, '-')}`);
    const campaign = new LabCampaign({
      runDir,
      lab: g.lab,
      startLab: labStartOptions(o),
      keepLab: o.keepLab === true,
      ops: o.ops ?? null,
      duration_ms: o.duration === undefined ? null : parseDuration(o.duration, '--duration'),
      rate_per_s: o.rate,
      max_in_flight: o.maxInFlight,
      faults: o.inject,
      workload: DEFAULT_WORKLOAD,
      seed: o.seed ?? Math.floor(Math.random() * 2 ** 31),
      settle_ms: parseDuration(o.settle, '--settle'),
      command: ['cloudp2p', ...process.argv.slice(2)],
      log: say,
    });
    let interrupts = 0;
    const onSignal = (): void => {
      interrupts++;
      if (interrupts === 1) {
        say(
          'stopping: no new operations; healing, settling and checking what was done (Ctrl-C again to quit now)',
        );
        campaign.abort();
      } else process.exit(130);
    };
    process.on('SIGINT', onSignal);
    const progress = new ProgressLine({
      render: () => {
        const p = campaign.progress();
        const fraction =
          p.total !== null
            ? p.issued / p.total
            : p.duration_s !== null
              ? p.elapsed_s / p.duration_s
              : null;
        return {
          fraction: p.phase === 'workload' ? Math.min(1, fraction ?? 0) : null,
          text:
            p.phase === 'workload'
              ? `${p.done} done, ${p.ok} ok, ${p.failed} failed, ${p.in_flight} in flight | ${p.recent_per_s.toFixed(1)} ops/s | leader ${p.leader ?? '?'} | ${p.faults.length > 0 ? p.faults.join(', ') : 'no fault'} | ${Math.round(p.elapsed_s)} s`
              : `${p.phase}...`,
        };
      },
    }).start();
    try {
      const { info, check } = await campaign.run();
      progress.stop();
      for (const c of check?.checks ?? [])
        say(`${c.pass ? 'pass' : 'FAIL'}  ${c.name}: ${c.detail}`);
      say(
        `${info.totals?.ops ?? 0} operations (${info.totals?.failed ?? 0} failed) in ${info.totals?.load_duration_s ?? 0} s, ${info.totals?.ops_per_s ?? 0} ops/s; verdict ${info.verdict?.pass ? 'PASS' : 'FAIL'}`,
      );
      if (o.report) {
        const report = writeReport(runDir);
        say(`report: ${report.markdown}`);
      }
      say(`run: ${runDir}`);
      if (info.status === 'interrupted') process.exitCode = 130;
      else if (!info.verdict?.pass) process.exitCode = ExitCode.failure;
    } finally {
      progress.stop();
      process.removeListener('SIGINT', onSignal);
    }
  });

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

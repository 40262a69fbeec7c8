/**
 * `cloudp2p stress`: a stress and failure campaign against a cloud started for the run. Many
 * concurrent clients send encryption requests (by count or duration, at a rate or as fast as
 * possible) while failures are injected; every result is verified; everything is recorded in a
 * run directory, and a report (Markdown, JSON, SVG charts) is written at the end.
 */
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { writeReport } from '../../report/render.js';
import { DEFAULT_POLL_MS, StressCampaign, type StressOptions } from '../../stress/campaign.js';
import { defaultImagePaths } from '../../stress/images.js';
import { parseDuration, parseInjectorSpec, type InjectorSpec } from '../../stress/spec.js';
import { ExitCode, UsageError } from '../../util/errors.js';
import { parsePositiveInteger, parsePositiveNumber } from '../options.js';
import { ProgressLine } from '../progress.js';

interface StressCliOptions {
  servers: number;
  serverConfig?: string[];
  attach?: boolean;
  clients: number;
  requests?: number;
  duration?: string;
  rate?: number;
  images?: string[];
  inject: InjectorSpec[];
  taskDeadline: string;
  threadPoolSize: number;
  heartbeat: string;
  failureTimeout: string;
  electionTimeout: string;
  verifyThreads: number;
  netns?: boolean;
  poll: string;
  seed?: number;
  out?: string;
  name?: string;
  report: boolean;
  json?: boolean;
}

const LIMITS = { servers: 60, clients: 1000, requests: 10_000_000, verifyThreads: 8 };

function collectInjector(value: string, previous: InjectorSpec[]): InjectorSpec[] {
  return [...previous, parseInjectorSpec(value)];
}

function bounded(max: number, what: string): (value: string) => number {
  return (value) => {
    const n = parsePositiveInteger(value);
    if (n > max) throw new UsageError(`${what} must be at most ${max}, got ${n}`);
    return n;
  };
}

export function registerStressCommand(program: Command): void {
  program
    .command('stress')
    .description(
      'stress and failure campaign: many clients against a cloud started for the run, failures injected, every result verified, report written',
    )
    .option(
      '--servers <n>',
      'cloud size (configs generated on free ports)',
      bounded(LIMITS.servers, '--servers'),
      3,
    )
    .option('--server-config <files...>', 'start the cloud from these server configs instead')
    .option(
      '--attach',
      'with --server-config: the cloud already runs; drive and observe it, do not start or stop it',
    )
    .option(
      '--clients <n>',
      'concurrent clients, each its own CloudClient with its own id',
      bounded(LIMITS.clients, '--clients'),
      50,
    )
    .option(
      '--requests <n>',
      'stop after this many requests',
      bounded(LIMITS.requests, '--requests'),
    )
    .option('--duration <time>', 'or stop after this long (e.g. 90s, 10m)')
    .option(
      '--rate <per-second>',
      'total request rate (default: as fast as the clients go)',
      parsePositiveNumber,
    )
    .option('--images <paths...>', 'PNG/JPEG files or folders to send (default: assets/samples)')
    .addOption(
      new Option(
        '--inject <spec>',
        'failure to inject, repeatable: kill:target=leader,every=30s,restart-after=5s | pause:target=random,every=40s,for=5s | partition:target=2,at=20s,for=20s[,scope=all] | failure-sim:interval=30s,max-silence=20s',
      )
        .argParser(collectInjector)
        .default([]),
    )
    .option(
      '--task-deadline <time>',
      'a request fails only after this long without a result',
      '120s',
    )
    .option(
      '--thread-pool-size <n>',
      'encryption threads per server',
      bounded(16, '--thread-pool-size'),
      1,
    )
    .option('--heartbeat <time>', 'heartbeat interval of generated configs', '250ms')
    .option('--failure-timeout <time>', 'failure timeout of generated configs', '1s')
    .option('--election-timeout <time>', 'election timeout of generated configs', '500ms')
    .option(
      '--verify-threads <n>',
      'worker threads verifying results',
      bounded(LIMITS.verifyThreads, '--verify-threads'),
      1,
    )
    .option(
      '--netns',
      'run the servers in network namespaces even without a partition (Linux, root)',
    )
    .option('--poll <time>', "poll every server's /status this often", `${DEFAULT_POLL_MS}ms`)
    .option('--seed <n>', 'seed for picking injection targets', parsePositiveInteger)
    .option('--out <dir>', 'run directory (default runs/<date>-<name>)')
    .option('--name <name>', 'a name for the run directory', 'stress')
    .option('--no-report', 'do not write the report at the end')
    .option('--json', 'print run.json totals as JSON on stdout')
    .addHelpText(
      'after',
      [
        '',
        'Run directory: run.json (config, totals), records.jsonl (one line per request),',
        'events.jsonl (failures injected, leader changes seen), servers/ (configs, logs),',
        'report.md + report.json + charts/*.svg (also later: cloudp2p report <run-dir>).',
        '',
        'Examples:',
        '  cloudp2p stress --requests 20000 --clients 50',
        '  cloudp2p stress --requests 10000 --inject kill:target=leader,every=30s,restart-after=5s',
        '  sudo cloudp2p stress --duration 90s --inject partition:target=random,at=20s,for=20s',
        '',
        'Exit codes: 0 every request verified and one leader at the end, 1 otherwise, 2 bad usage.',
      ].join('\n'),
    )
    .action(async (cli: StressCliOptions) => {
      if (cli.requests === undefined && cli.duration === undefined) cli.requests = 1000;
      if (!/^[A-Za-z0-9._-]{1,40}$/.test(cli.name ?? ''))
        throw new UsageError('--name: 1..40 of A-Z a-z 0-9 . _ -');
      const stamp = new Date().toISOString().replace(/[:]/g, '').replace(/\..*$/, '');
      const runDir = cli.out ?? join('runs', `${stamp}-${cli.name}`);
      const options: StressOptions = {
        runDir,
        servers: cli.serverConfig ? cli.serverConfig.length : cli.servers,
        serverConfigs: cli.serverConfig ?? null,
        attach: cli.attach === true,
        clients: cli.clients,
        requests: cli.requests ?? null,
        duration_ms: cli.duration === undefined ? null : parseDuration(cli.duration, '--duration'),
        rate_per_s: cli.rate ?? null,
        images: cli.images ?? defaultImagePaths(),
        injectors: cli.inject,
        taskDeadline_ms: parseDuration(cli.taskDeadline, '--task-deadline'),
        threadPoolSize: cli.threadPoolSize,
        heartbeat_interval_secs: parseDuration(cli.heartbeat, '--heartbeat') / 1000,
        failure_timeout_secs: parseDuration(cli.failureTimeout, '--failure-timeout') / 1000,
        election_timeout_secs: parseDuration(cli.electionTimeout, '--election-timeout') / 1000,
        verifyThreads: cli.verifyThreads,
        netns: cli.netns === true,
        poll_ms: Math.max(50, parseDuration(cli.poll, '--poll')),
        seed: cli.seed ?? Math.floor(Math.random() * 2 ** 31),
        command: ['cloudp2p', ...process.argv.slice(2)],
        log: (line) => process.stderr.write(`${line}\n`),
      };
      if (options.taskDeadline_ms < 1000)
        throw new UsageError('--task-deadline must be at least 1s');
      const campaign = new StressCampaign(options);
      process.stderr.write(`stress run ${campaign.runId}: ${runDir}\n`);
      let interrupts = 0;
      const onSignal = (signal: NodeJS.Signals): void => {
        interrupts++;
        if (interrupts === 1) {
          process.stderr.write(`\n${signal}: stopping the load, cleaning up (again to force)\n`);
          campaign.abort();
        } else process.exit(130); // the campaign's exit handler still kills servers, removes namespaces
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      const progress = new ProgressLine({
        render: () => {
          const p = campaign.progress();
          const fraction =
            p.total !== null
              ? p.done / p.total
              : p.duration_s !== null
                ? p.elapsed_s / p.duration_s
                : null;
          const average = p.elapsed_s > 0 ? p.ok / p.elapsed_s : 0;
          return {
            fraction: p.phase === 'load' ? fraction : null,
            text:
              p.phase === 'load'
                ? `${p.done}${p.total !== null ? `/${p.total}` : ''} done, ${p.ok} ok, ${p.failed} failed, ${p.inFlight} in flight, ${p.verifying} verifying | ${p.recentRate.toFixed(1)} img/s now, ${average.toFixed(1)} avg | leader ${p.leader ?? '?'} | ${p.faults} failures | ${p.elapsed_s.toFixed(0)} s`
                : `${p.phase}... (${p.done} done, ${p.faults} failures)`,
          };
        },
      }).start();
      let info;
      try {
        info = await campaign.run();
      } finally {
        progress.stop();
        process.removeListener('SIGINT', onSignal);
        process.removeListener('SIGTERM', onSignal);
      }
      const t = info.totals;
      let passed =
        t !== null && t.ok === t.requests && t.requests > 0 && info.final?.agreed_leader !== null;
      if (cli.report) {
        const report = writeReport(runDir);
        passed = passed && report.checks.every((c) => c.pass);
        process.stderr.write(`report: ${report.markdown}\n`);
      }
      if (cli.json)
        process.stdout.write(
          `${JSON.stringify({ run_dir: runDir, status: info.status, totals: t, final: info.final })}\n`,
        );
      else if (t)
        process.stdout.write(
          `${t.ok}/${t.requests} verified ok, ${t.failed} failed, ${t.verify_failed} verify_failed, ${t.conflicts} conflicts, ${t.failed_over} failed over; ${t.throughput_per_s} images/s over ${t.load_duration_s} s; final leader ${info.final?.agreed_leader ?? 'NONE'}\nrun: ${runDir}\n`,
        );
      if (info.status === 'interrupted') process.exitCode = 130;
      else if (!passed) process.exitCode = ExitCode.failure;
    });
}

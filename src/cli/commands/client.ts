/**
 * `cloudp2p client --config config/client1.toml`: the seed's load client. Sends encryption
 * requests at the configured rate for the configured duration, with a live progress line, then
 * prints a summary (sent, succeeded, failed, latency percentiles, per-server share) and writes
 * one JSON record per request.
 */
import type { Command } from 'commander';
import { loadClientConfig } from '../../client/config.js';
import { LoadRun, formatSummary } from '../../client/load-client.js';
import { ExitCode } from '../../util/errors.js';
import { createLogger } from '../../util/log.js';
import { parsePositiveNumber } from '../options.js';
import { ProgressLine } from '../progress.js';

interface ClientOptions {
  config: string;
  rate?: number;
  duration?: number;
  records?: string;
  json?: boolean;
}

export function registerClientCommand(program: Command): void {
  program
    .command('client')
    .description(
      'run a load client: encryption requests at a fixed rate, with a summary and per-request records',
    )
    .requiredOption('-c, --config <file>', 'client TOML config, e.g. config/client1.toml')
    .option('--rate <per-second>', 'override requests.rate_per_second', parsePositiveNumber)
    .option('--duration <seconds>', 'override requests.duration_seconds', parsePositiveNumber)
    .option('--records <file>', 'override output.records (JSONL, one line per request)')
    .option('--json', 'print the summary as JSON on stdout')
    .addHelpText(
      'after',
      '\nExit codes: 0 every request succeeded and verified, 1 some failed, 2 bad config, 8 cloud unreachable.',
    )
    .action(async (options: ClientOptions) => {
      const config = loadClientConfig(options.config);
      if (options.rate !== undefined) config.requests.rate_per_second = options.rate;
      if (options.duration !== undefined) config.requests.duration_seconds = options.duration;
      if (options.records !== undefined) config.output.records_path = options.records;
      const logger = createLogger(`client-${config.name}`);
      const run = new LoadRun(config, logger);
      const total = Math.max(
        1,
        Math.round(config.requests.rate_per_second * config.requests.duration_seconds),
      );
      const progress = new ProgressLine({
        render: () => {
          const p = run.progress;
          const rate = p.elapsed_s > 0 ? p.ok / p.elapsed_s : 0;
          return {
            fraction: p.done / total,
            text: `${p.done}/${total} done, ${p.ok} ok, ${p.failed} failed, ${p.inFlight} in flight, ${rate.toFixed(1)} images/s`,
          };
        },
      }).start();
      let summary;
      try {
        summary = await run.run();
      } finally {
        progress.stop();
      }
      process.stdout.write(
        options.json ? `${JSON.stringify(summary)}\n` : `${formatSummary(summary)}\n`,
      );
      if (config.output.records_path && !options.json)
        process.stdout.write(`records: ${config.output.records_path}\n`);
      if (summary.failed > 0) process.exitCode = ExitCode.failure;
    });
}

/**
 * `cloudp2p report <run-dir>`: reads a run directory (cloudp2p stress, or cloudp2p lab campaign:
 * src/report/sharing-*.ts) and writes report.md, report.json
 * and charts/*.svg (throughput over time with failures marked, latency histogram and
 * percentiles, per-server share, stall after each failure), then prints the verdict.
 */
import type { Command } from 'commander';
import { writeReport } from '../../report/render.js';
import { ExitCode } from '../../util/errors.js';

interface ReportCliOptions {
  out?: string;
  json?: boolean;
}

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description(
      'write the report (Markdown, JSON, SVG charts) of a run directory of cloudp2p stress or cloudp2p lab campaign',
    )
    .argument('<run-dir>', 'a directory written by cloudp2p stress or cloudp2p lab campaign')
    .option('--out <dir>', 'write the report here instead of into the run directory')
    .option('--json', 'print the analysis as JSON on stdout')
    .addHelpText(
      'after',
      '\nExit codes: 0 every check passed, 1 a check failed, 3 not a run directory.',
    )
    .action((runDir: string, options: ReportCliOptions) => {
      const report = writeReport(runDir, options.out ?? runDir);
      if (options.json) process.stdout.write(`${JSON.stringify(report.analysis)}\n`);
      else {
        const lines = [
          report.headline,
          ...report.checks.map((c) => `${c.pass ? 'pass' : 'FAIL'}  ${c.name}: ${c.detail}`),
          `report: ${report.markdown}`,
        ];
        process.stdout.write(`${lines.join('\n')}\n`);
      }
      if (!report.checks.every((c) => c.pass)) process.exitCode = ExitCode.failure;
    });
}

/**
 * `cloudp2p report <run-dir>`: reads a stress run directory and writes report.md, report.json
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
    .description('write the report (Markdown, JSON, SVG charts) of a stress run directory')
    .argument('<run-dir>', 'a directory written by cloudp2p stress')
    .option('--out <dir>', 'write the report here instead of into the run directory')
    .option('--json', 'print the analysis as JSON on stdout')
    .addHelpText(
      'after',
      '\nExit codes: 0 every check passed, 1 a check failed, 3 not a run directory.',
    )
    .action((runDir: string, options: ReportCliOptions) => {
      const report = writeReport(runDir, options.out ?? runDir);
      const a = report.analysis;
      if (options.json) process.stdout.write(`${JSON.stringify(a)}\n`);
      else {
        const lines = [
          `${a.totals.ok}/${a.totals.requests} verified ok (${(a.totals.success_rate * 100).toFixed(2)}%), ${a.throughput_per_s} images/s, p50 ${a.latency_ms.p50} ms, p99 ${a.latency_ms.p99} ms, max ${a.latency_ms.max} ms`,
          ...a.checks.map((c) => `${c.pass ? 'pass' : 'FAIL'}  ${c.name}: ${c.detail}`),
          `report: ${report.markdown}`,
        ];
        process.stdout.write(`${lines.join('\n')}\n`);
      }
      if (!a.checks.every((c) => c.pass)) process.exitCode = ExitCode.failure;
    });
}

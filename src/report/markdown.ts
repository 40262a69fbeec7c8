/**
 * Small helpers shared by the reports' Markdown and charts: a centred moving average, numbers
 * for tables ('-' when unknown), Markdown tables with escaped cells, the leader-changes table.
 */
import type { LeaderChange } from './analyze.js';

export function movingAverage(
  points: readonly { x: number; y: number }[],
  window: number,
): { x: number; y: number }[] {
  const half = Math.floor(window / 2);
  return points.map((p, i) => {
    const slice = points.slice(Math.max(0, i - half), Math.min(points.length, i + half + 1));
    return { x: p.x, y: Math.round((slice.reduce((n, q) => n + q.y, 0) / slice.length) * 10) / 10 };
  });
}

export function fmt(v: number | null | undefined, digits = 0): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '-';
  return v.toFixed(digits);
}

export function table(head: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]): string =>
    `| ${cells.map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(head), `| ${head.map(() => '---').join(' | ')} |`, ...rows.map(line)].join('\n');
}

/** The leader changes of a run (stress and lab reports alike), one row each. */
export function leaderChangesTable(changes: readonly LeaderChange[]): string {
  return table(
    [
      'at (s)',
      'new leader',
      'epoch',
      'without a leader, polled (ms)',
      'switched, server logs (ms)',
      'detail',
    ],
    changes.map((c) => [
      fmt(c.at_s, 1),
      c.leader ?? '-',
      c.epoch ?? '-',
      fmt(c.leaderless_ms),
      fmt(c.switch_ms_from_logs),
      c.detail,
    ]),
  );
}

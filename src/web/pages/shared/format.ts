/** Number and time formatting for the pages. Pure: no DOM, so the unit tests run it in Node. */

/** "850 ms", "4.2 s", "3 min 05 s", "2 h 07 min". */
export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  const totalSeconds = Math.floor(ms / 1000);
  if (totalSeconds < 3600) {
    const seconds = String(totalSeconds % 60).padStart(2, '0');
    return `${Math.floor(totalSeconds / 60)} min ${seconds} s`;
  }
  const minutes = String(Math.floor(totalSeconds / 60) % 60).padStart(2, '0');
  return `${Math.floor(totalSeconds / 3600)} h ${minutes} min`;
}

/** Tasks per second with sensible precision: "0", "0.4", "12.5", "1,250". */
export function formatRate(perSecond: number | null): string {
  if (perSecond === null || !Number.isFinite(perSecond)) return '—';
  if (perSecond === 0) return '0';
  if (perSecond < 100) return perSecond.toFixed(1);
  return formatCount(Math.round(perSecond));
}

/** 12345 → "12,345" (grouping fixed, so screenshots and tests do not depend on the locale). */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return '—';
  const sign = n < 0 ? '-' : '';
  const digits = String(Math.trunc(Math.abs(n)));
  return sign + digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

export function formatPercent(pct: number): string {
  return Number.isFinite(pct) ? `${Math.round(pct)}%` : '—';
}

/** Local wall-clock time of an ISO timestamp, "14:03:27". */
export function formatClock(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '—';
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
}

/** Clamps to 0..100 for drawing a bar. */
export function barPercent(value: number, max: number): number {
  if (!Number.isFinite(value) || !Number.isFinite(max) || max <= 0) return 0;
  return Math.min(100, Math.max(0, (value / max) * 100));
}

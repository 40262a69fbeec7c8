/** What writing a report produced (both kinds: stress campaigns and lab runs). */
import type { Analysis } from './analyze.js';
import type { SharingAnalysis } from './sharing-analyze.js';

export interface ReportFiles {
  markdown: string;
  json: string;
  charts: string[];
  analysis: Analysis | SharingAnalysis;
  /** The headline, one line, for a terminal. */
  headline: string;
  checks: { name: string; pass: boolean; detail: string }[];
}

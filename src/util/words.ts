/** Small helpers for what the CLI and the agent print: counts with the right noun form. */

/** `1 view`, `2 views`, `0 views`; `plural` for irregular nouns (`1 copy`, `2 copies`). */
export function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}

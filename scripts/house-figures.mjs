#!/usr/bin/env node
/**
 * `node scripts/house-figures.mjs [folder]`: the figures issue 13 asks to compare before and
 * after a redesign, for the checkout in `folder` (default: this one), so two commits can be
 * measured the same way (`git worktree add /tmp/old <rev>` and run it there too):
 *
 *   - lines of the five biggest files in src/
 *   - `as` casts in src/ (`x as T`; `as const` and import/export renames are not casts)
 *   - fixed sleeps in test/ (awaiting a timer only: `await sleep(…)`, `await delay(…)`,
 *     `new Promise((r) => setTimeout(r, …))`, `node:timers/promises`); deadlines that race a
 *     condition are not sleeps
 *
 * Repeated blocks are counted by the `duplicates` tool (`duplicates --most 200`), not here.
 * Reads files as text; writes nothing.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = process.argv[2] ?? process.cwd();
const SOURCE = /\.(ts|tsx|mts|mjs|js)$/;

function filesUnder(dir) {
  let found = [];
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return found;
  }
  for (const name of entries) {
    if (name === 'node_modules' || name === 'dist') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found = found.concat(filesUnder(path));
    else if (SOURCE.test(name)) found.push(path);
  }
  return found;
}

/** Strips comments and string literals' contents well enough for counting casts. */
function codeOnly(text) {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/(^|[^:])\/\/.*$/gm, '$1')
    .replace(/'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\]|\\.)*`/g, "''");
}

const CAST = /[\w)\]}>'"]\s+as\s+(?!const\b)[A-Za-z_{([]/g;
const IMPORT_RENAME = /^\s*(import|export)\b|^\s*\w+\s+as\s+\w+,?\s*$/;
const SLEEPS = [
  /await\s+(sleep|delay|pause|wait)\s*\(\s*[\d_]+/g,
  /new Promise\s*\(\s*\(?\s*(\w+)\s*\)?\s*=>\s*setTimeout\s*\(\s*\1\s*,/g,
  /from\s+['"]node:timers\/promises['"]/g,
];

const sources = filesUnder(join(root, 'src')).map((path) => ({
  path: relative(root, path),
  text: readFileSync(path, 'utf8'),
}));
const biggest = sources
  .map(({ path, text }) => ({
    path,
    lines: text.split('\n').length - (text.endsWith('\n') ? 1 : 0),
  }))
  .sort((a, b) => b.lines - a.lines)
  .slice(0, 5);
let casts = 0;
for (const { text } of sources) {
  for (const line of codeOnly(text).split('\n')) {
    if (IMPORT_RENAME.test(line)) continue;
    casts += (line.match(CAST) ?? []).length;
  }
}
let sleeps = 0;
for (const path of filesUnder(join(root, 'test'))) {
  const text = readFileSync(path, 'utf8');
  for (const pattern of SLEEPS) sleeps += (text.match(pattern) ?? []).length;
}

console.log(`folder: ${root}`);
console.log('five biggest files in src/:');
for (const { path, lines } of biggest) console.log(`  ${String(lines).padStart(5)}  ${path}`);
console.log(`\`as\` casts in src/: ${casts}`);
console.log(`fixed sleeps in test/: ${sleeps}`);

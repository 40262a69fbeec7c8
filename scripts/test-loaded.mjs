#!/usr/bin/env node
/**
 * `npm run test:loaded [-- vitest args]`: the integration suite (or the files given) while a
 * CPU hog keeps every core busy, so a test that passes only on an idle machine fails here
 * first. One busy-looping process per core at normal priority; the tests run as usual. The
 * hogs stop when the tests end, whatever the outcome (also on Ctrl-C); the exit code is
 * vitest's. The load average reached is printed at the end.
 */
import { spawn } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';

const cores = availableParallelism();
const hogs = Array.from({ length: cores }, () =>
  spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }),
);
const stopHogs = () => {
  for (const hog of hogs) hog.kill('SIGKILL');
};
process.on('exit', stopHogs);

const targets = process.argv.slice(2);
console.error(
  `test:loaded: ${cores} CPU hog(s) running; tests: ${targets.join(' ') || 'test/integration'}`,
);
let maxLoad = 0;
const sampler = setInterval(() => (maxLoad = Math.max(maxLoad, loadavg()[0] ?? 0)), 5000);
const vitest = spawn(
  process.execPath,
  ['node_modules/vitest/vitest.mjs', 'run', ...(targets.length ? targets : ['test/integration'])],
  { stdio: 'inherit' },
);
// Ctrl-C or a kill stops the hogs at once and passes the signal on to vitest (which stops
// the processes its tests started); this script exits when vitest does.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    stopHogs();
    vitest.kill(signal);
  });
}
vitest.on('exit', (code, signal) => {
  clearInterval(sampler);
  stopHogs();
  console.error(
    `test:loaded: ${cores} CPU hog(s); highest 1-min load average seen ${maxLoad.toFixed(1)}`,
  );
  process.exit(code ?? (signal ? 1 : 0));
});

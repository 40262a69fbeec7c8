/**
 * `npm run bench:cover`: what the default cover costs per result, side by side with another
 * cover (e.g. the previous default), in one run on this machine.
 *
 * For each cover, the server's own path: an encrypt executor (one worker thread, the cover
 * decoded once, its PNG bands cached) hides each sample image (the payload a client builds);
 * we record the result PNG's size and the time per result (median), and whether the cover had
 * to be scaled up. Covers take turns round by round, so a burst of other work on the machine
 * hits both sides of the ratio.
 *
 *   npm run bench:cover -- --covers old-cover.png            (this default vs old-cover.png)
 *   BENCH_ROUNDS=5 BENCH_TASKS=40 npm run bench:cover
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { buildTaskPayload } from '../src/client/payload.js';
import { createEncryptExecutor } from '../src/server/encrypt-executor.js';
import type { EncryptResult } from '../src/server/encrypt-worker.js';
import { DEFAULT_COVER_PATH } from '../src/stego/index.js';
import { packagePath } from '../src/util/package-info.js';
import { median } from '../src/util/stats.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const TASKS = Number(process.env.BENCH_TASKS ?? 30);
const SAMPLES = ['photo.jpg', 'small.png'];

interface Row {
  cover: string;
  sample: string;
  sizes: number[];
  times_ms: number[];
}

function coversFromArgs(): string[] {
  const at = process.argv.indexOf('--covers');
  const others = at >= 0 ? (process.argv[at + 1] ?? '').split(',').filter(Boolean) : [];
  return [DEFAULT_COVER_PATH, ...others];
}

async function main(): Promise<void> {
  const covers = coversFromArgs();
  const executors = await Promise.all(
    covers.map((coverPath) =>
      createEncryptExecutor({ threads: 1, maxQueue: 1000, coverPath, jobTimeout_ms: 60_000 }),
    ),
  );
  const payloads = SAMPLES.map((name) => ({
    name,
    bytes: readFileSync(packagePath('assets', 'samples', name)).length,
    payload: buildTaskPayload(new Uint8Array(readFileSync(packagePath('assets', 'samples', name)))),
  }));
  const rows: Row[] = covers.flatMap((cover) =>
    payloads.map((p) => ({ cover, sample: p.name, sizes: [], times_ms: [] })),
  );
  try {
    // Warm each worker's cover cache first.
    for (const executor of executors)
      for (const p of payloads) await executor.start(p.payload, () => undefined).result;
    for (let round = 0; round < ROUNDS; round++) {
      for (const [c, executor] of executors.entries()) {
        for (const [s, p] of payloads.entries()) {
          const row = rows[c * payloads.length + s] as Row;
          for (let task = 0; task < TASKS / ROUNDS; task++) {
            const started = performance.now();
            const result = await executor.start(p.payload, () => undefined).result;
            row.times_ms.push(performance.now() - started);
            row.sizes.push(resultBytes(result));
          }
        }
      }
    }
  } finally {
    await Promise.all(executors.map((executor) => executor.close(1000)));
  }
  const base = (sample: string): Row => rows.find((r) => r.sample === sample) as Row;
  process.stdout.write(
    [
      `hidden: ${payloads.map((p) => `${p.name} (${p.bytes} bytes)`).join(', ')}; ${ROUNDS} rounds, ${TASKS} results per cover and image; load ${loadAverage()}`,
      '',
      '| cover | hidden image | result PNG (bytes) | vs default | time per result (ms, median) | vs default |',
      '| --- | --- | ---: | ---: | ---: | ---: |',
      ...rows.map((r) => {
        const size = median(r.sizes);
        const time = median(r.times_ms);
        const b = base(r.sample);
        return `| ${r.cover === DEFAULT_COVER_PATH ? 'default (assets/cover.png)' : r.cover} | ${r.sample} | ${size} | ${(size / median(b.sizes)).toFixed(2)}x | ${time.toFixed(1)} | ${(time / median(b.times_ms)).toFixed(2)}x |`;
      }),
      '',
    ].join('\n'),
  );
}

function resultBytes(result: unknown): number {
  return (result as EncryptResult).png.length;
}

function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

await main();

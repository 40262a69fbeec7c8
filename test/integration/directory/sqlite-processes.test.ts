/**
 * Several server processes sharing one SQLite file, for real: separate OS processes (SQLite's
 * locks are per process), opening a fresh file at the same moment (migration race), then writing
 * concurrently. None may see a lock error, and each sees the others' writes.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { openDirectory } from '../../../src/directory/index.js';
import { TEST_TIMEOUT_MS } from '../helpers/cluster-fixture.js';

const WORKERS = 3;
const ROUNDS = 40;
let dir = '';

afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface WorkerReport {
  index: number;
  user_id: string;
  viewer_id: string;
  seen: number;
  errors: string[];
}

interface Worker {
  /** Resolves when the worker has loaded and waits for the start line. */
  ready: Promise<void>;
  start(): void;
  report: Promise<WorkerReport>;
}

function runWorker(url: string, index: number): Worker {
  let ready = (): void => undefined;
  const readyPromise = new Promise<void>((resolve) => (ready = resolve));
  let start = (): void => undefined;
  const report = new Promise<WorkerReport>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        './scripts/register-ts.mjs',
        'test/integration/directory/fixtures/sqlite-worker.ts',
        url,
        String(index),
        String(WORKERS),
        String(ROUNDS),
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    start = () => void child.stdin.write('go\n');
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (/^ready$/m.test(out)) ready();
    });
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`worker ${index} exited ${code}: ${err}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as WorkerReport);
      } catch {
        reject(new Error(`worker ${index} printed no report: ${out} ${err}`));
      }
    });
  });
  // A worker that dies before "ready" must fail the test, not leave it waiting.
  const loaded = Promise.race([readyPromise, report.then(() => undefined)]);
  return { ready: loaded, start: () => start(), report };
}

it(
  'lets several processes migrate and write one SQLite file without lock errors',
  async () => {
    dir = mkdtempSync(join(tmpdir(), 'cloudp2p-dir-procs-'));
    const url = `sqlite:${join(dir, 'shared', 'directory.db')}`;
    // Node + TypeScript start-up takes a while; all workers open once every one has loaded.
    const workers = Array.from({ length: WORKERS }, (_, i) => runWorker(url, i));
    await Promise.all(workers.map((w) => w.ready));
    for (const worker of workers) worker.start();
    const reports = await Promise.all(workers.map((w) => w.report));
    for (const report of reports) {
      expect(report.errors).toEqual([]);
      expect(report.seen).toBe(WORKERS);
    }
    const store = await openDirectory(url);
    try {
      for (const report of reports) {
        const grant = await store.getGrant(report.user_id, {
          owner_id: report.user_id,
          image_id: 'shared',
          viewer_id: report.viewer_id,
        });
        expect(grant).toMatchObject({ quota: ROUNDS, version: ROUNDS });
      }
      expect((await store.listOnlineUsers()).items).toHaveLength(WORKERS);
    } finally {
      await store.close();
    }
  },
  TEST_TIMEOUT_MS,
);

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

function runWorker(url: string, index: number, startAt: number): Promise<WorkerReport> {
  return new Promise((resolve, reject) => {
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
        String(startAt),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
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
}

it('lets several processes migrate and write one SQLite file without lock errors', async () => {
  dir = mkdtempSync(join(tmpdir(), 'cloudp2p-dir-procs-'));
  const url = `sqlite:${join(dir, 'shared', 'directory.db')}`;
  // Node + TypeScript start-up takes about a second; all workers then open at the same instant.
  const startAt = Date.now() + 2500;
  const reports = await Promise.all(
    Array.from({ length: WORKERS }, (_, i) => runWorker(url, i, startAt)),
  );
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
}, 60_000);

/**
 * The `cloudp2p` program as a user's shell runs it (a real process on real pipes): what it
 * does when its reader goes away early, and how it repeats a bad argument back.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { packagePath } from '../../src/util/package-info.js';

const CLI = packagePath('dist', 'cli', 'main.js');

interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  stdout: string;
}

/**
 * Runs the CLI; with `readerGone`, our end of its stdout is closed before it writes, like a
 * `| head -1` that already has its line (the write then fails with EPIPE every time).
 */
function run(args: string[], readerGone = false): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    if (readerGone) child.stdout.destroy();
    else child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stderr, stdout }));
  });
}

describe('cloudp2p as a process', () => {
  it.each([['lab --help'], ['--help'], ['peer --help'], ['stego capacity --help']])(
    'ends quietly when its reader stops early: cloudp2p %s | head -1',
    async (line) => {
      const finished = await run(line.split(' '), true);
      expect(finished.stderr).toBe('');
      expect(finished).toMatchObject({ code: 0, signal: null });
    },
  );

  it('refuses a 5000-character name in one short line naming the limit', async () => {
    const finished = await run(['peer', 'register', 'a'.repeat(5000)]);
    expect(finished.code).toBe(2);
    expect(finished.stderr).toContain('(5000 characters)');
    expect(finished.stderr).toMatch(/expected 3–32 characters/);
    expect(finished.stderr.length).toBeLessThan(400);
  });
});

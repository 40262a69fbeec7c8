import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { ExitCode } from '../../../src/util/errors.js';
import { packagePath } from '../../../src/util/package-info.js';

let dir: string;
const sample = packagePath('assets', 'samples', 'photo.jpg');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cloudp2p-stego-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs the CLI, capturing stdout and stderr. */
async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi
    .spyOn(process.stdout, 'write')
    .mockImplementation((chunk) => ((stdout += String(chunk)), true));
  const err = vi
    .spyOn(process.stderr, 'write')
    .mockImplementation((chunk) => ((stderr += String(chunk)), true));
  const previousExitCode = process.exitCode;
  try {
    const code = await main(args);
    const exitCode = process.exitCode;
    return {
      code: code === 0 && typeof exitCode === 'number' && exitCode !== 0 ? exitCode : code,
      stdout,
      stderr,
    };
  } finally {
    process.exitCode = previousExitCode;
    out.mockRestore();
    err.mockRestore();
  }
}

describe('cloudp2p stego', () => {
  it('embeds with rights and extracts the same bytes (JSON output)', async () => {
    const out = join(dir, 'stego.png');
    const embedded = await run(
      'stego',
      'embed',
      sample,
      '-o',
      out,
      '--owner',
      'alice',
      '--viewer',
      'bob:3',
      '--viewer',
      'carol:1',
      '--message',
      'hi',
      '--json',
    );
    expect(embedded.code).toBe(ExitCode.ok);
    expect(JSON.parse(embedded.stdout)).toMatchObject({
      mode: 'container',
      width: 1280,
      height: 960,
      scaleStep: 0,
    });
    const hiddenOut = join(dir, 'hidden.jpg');
    const extracted = await run('stego', 'extract', out, '-o', hiddenOut, '--json');
    expect(extracted.code).toBe(ExitCode.ok);
    const summary = JSON.parse(extracted.stdout);
    expect(summary).toMatchObject({
      mediaType: 'image/jpeg',
      message: 'hi',
      rights: { owner: 'alice' },
    });
    expect(summary.rights.viewers).toEqual([
      { username: 'bob', quota: 3 },
      { username: 'carol', quota: 1 },
    ]);
    expect((await readFile(hiddenOut)).equals(await readFile(sample))).toBe(true);
  });

  it('produces byte-identical output for the same input', async () => {
    await run('stego', 'embed', sample, '-o', join(dir, 'a.png'), '--owner', 'alice');
    await run('stego', 'embed', sample, '-o', join(dir, 'b.png'), '--owner', 'alice');
    expect((await readFile(join(dir, 'a.png'))).equals(await readFile(join(dir, 'b.png')))).toBe(
      true,
    );
  });

  it('supports the seed text mode both ways', async () => {
    const out = join(dir, 'seed.png');
    expect(
      (await run('stego', 'embed', '--mode', 'seed-text', '--text', 'hello seed', '-o', out)).code,
    ).toBe(0);
    const extracted = await run('stego', 'extract', '--mode', 'seed-text', out);
    expect(extracted).toMatchObject({ code: 0, stdout: 'hello seed\n' });
  });

  it('uses the documented exit codes', async () => {
    const cover = packagePath('assets', 'cover.png');
    expect((await run('stego', 'extract', cover)).code).toBe(ExitCode.noPayload);
    const notImage = join(dir, 'not-image.txt');
    await writeFile(notImage, 'hello');
    const bad = await run('stego', 'extract', notImage);
    expect(bad.code).toBe(ExitCode.badInput);
    expect(bad.stderr).toMatch(/not a PNG or JPEG/);
    const tinyCover = packagePath('assets', 'samples', 'small.png');
    const tooBig = await run(
      'stego',
      'embed',
      sample,
      '--cover',
      tinyCover,
      '-o',
      join(dir, 'x.png'),
    );
    expect(tooBig.code).toBe(ExitCode.capacity);
    expect(tooBig.stderr).toMatch(
      /needs \d+ bytes but a 320x240 cover holds 28800 bytes; the smallest cover .* is \d+x\d+/,
    );
    expect(
      (await run('stego', 'embed', sample, '-o', join(dir, 'y.png'), '--viewer', 'bob')).code,
    ).toBe(ExitCode.usage);
    expect(
      (await run('stego', 'embed', sample, '-o', join(dir, 'y.png'), '--viewer', 'bob:1')).code,
    ).toBe(ExitCode.usage);
    expect(
      (await run('stego', 'embed', sample, '-o', join(dir, 'y.png'), '--owner', 'bad name')).code,
    ).toBe(ExitCode.badInput);
    expect(
      (await run('stego', 'embed', join(dir, 'missing.jpg'), '-o', join(dir, 'y.png'))).code,
    ).toBe(ExitCode.badInput);
  });

  it('reports capacity, and whether a file fits', async () => {
    const report = await run('stego', 'capacity', '--json');
    expect(JSON.parse(report.stdout)).toMatchObject({
      width: 1280,
      height: 960,
      capacityBytes: 460800,
    });
    const small = packagePath('assets', 'samples', 'small.png');
    const fits = await run('stego', 'capacity', '--cover', small, '--hidden', sample, '--json');
    expect(fits.code).toBe(ExitCode.capacity);
    expect(JSON.parse(fits.stdout)).toMatchObject({ fits: false, width: 320, height: 240 });
  });

  it('runs the demo', async () => {
    const demo = await run('demo');
    expect(demo.code).toBe(0);
    expect(demo.stdout).toMatch(/byte-identical: yes/);
    expect(demo.stdout).toMatch(/2 views left/);
  });
});

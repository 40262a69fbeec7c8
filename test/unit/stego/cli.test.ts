import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { generateIdentity } from '../../../src/identity/keys.js';
import { buildCopyContainer } from '../../../src/peer/copies.js';
import {
  decodeContainer,
  embedContainer,
  encodeContainer,
  encodePng,
  loadCoverSet,
} from '../../../src/stego/index.js';
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

  it('verifies signed rights: a forged signature is "signature invalid" (exit 9), nothing written', async () => {
    const owner = { username: 'alice', keys: generateIdentity() };
    const viewer = generateIdentity();
    const { container } = buildCopyContainer({
      owner,
      imageId: 'img1',
      original: { mediaType: 'image/jpeg', bytes: new Uint8Array(await readFile(sample)) },
      viewer: { username: 'bob', publicKey: viewer.publicKey },
      quota: 3,
      version: 9,
    });
    const covers = await loadCoverSet();
    const stegoFile = async (name: string, bytes: Uint8Array): Promise<string> => {
      const payload = decodeContainer(bytes);
      const cover = covers.coverFor(bytes.length, true);
      const path = join(dir, name);
      await writeFile(path, encodePng(embedContainer(cover.raster, payload).raster));
      return path;
    };
    const genuine = await run('stego', 'extract', await stegoFile('signed.png', container));
    expect(genuine.code).toBe(ExitCode.ok);
    expect(genuine.stdout).toMatch(/signature valid/);

    const forged = decodeContainer(container);
    forged.ownerSignature = {
      ...(forged.ownerSignature as NonNullable<typeof forged.ownerSignature>),
      signature: new Uint8Array(randomBytes(64)),
    };
    const forgedFile = await stegoFile('forged.png', encodeContainer(forged));
    const out = join(dir, 'forged-hidden.bin');
    const refused = await run('stego', 'extract', forgedFile, '-o', out);
    expect(refused.code).toBe(ExitCode.signatureInvalid);
    expect(refused.code).toBe(9);
    expect(refused.stderr).toMatch(/signature invalid/);
    expect(refused.stdout).not.toMatch(/signed/);
    await expect(readFile(out)).rejects.toThrow(/ENOENT/);
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

  it('says clearly when -o or --out-dir cannot be written, before doing the work', async () => {
    const stego = join(dir, 'for-extract.png');
    expect((await run('stego', 'embed', sample, '-o', stego)).code).toBe(0);
    const folder = join(dir, 'a-folder');
    await mkdir(folder);
    const missing = join(dir, 'no-such-folder', 'out.png');
    const attempts: [string, string[], RegExp][] = [
      [
        'embed',
        ['stego', 'embed', sample, '-o', missing],
        /folder .*no-such-folder does not exist/,
      ],
      [
        'embed',
        ['stego', 'embed', sample, '-o', folder],
        /a-folder: it is a folder; give a file name, e.g. .*stego\.png/,
      ],
      [
        'extract',
        ['stego', 'extract', stego, '-o', missing],
        /folder .*no-such-folder does not exist/,
      ],
      ['extract', ['stego', 'extract', stego, '-o', folder], /it is a folder/],
      [
        'seed-text extract',
        ['stego', 'extract', '--mode', 'seed-text', stego, '-o', folder],
        /it is a folder/,
      ],
      [
        'demo',
        ['demo', '--out-dir', join(dir, 'no-such-folder')],
        /folder .*no-such-folder does not exist/,
      ],
      ['demo', ['demo', '--out-dir', sample], /photo\.jpg is not a folder/],
    ];
    for (const [name, args, message] of attempts) {
      const result = await run(...args);
      expect(result.stderr, name).toMatch(message);
      expect(result.stderr, name).not.toMatch(/unexpected error| {4}at /);
      expect(result.code, name).toBe(ExitCode.usage);
      expect(result.stdout, `${name} did no work`).toBe('');
    }
  });

  it('seed-text mode refuses what it could not read back, and keeps text files exact', async () => {
    const out = join(dir, 'seed-exact.png');
    for (const text of ['ESC \u001b[31m red', 'NUL \u0000', 'DEL \u007f', 'C1 \u0085']) {
      const refused = await run('stego', 'embed', '--mode', 'seed-text', '--text', text, '-o', out);
      expect(refused.code, JSON.stringify(text)).toBe(ExitCode.badInput);
      expect(refused.stderr).toMatch(/control character U\+00[0-9A-F]{2} at character \d+/);
    }
    const invalidUtf8 = join(dir, 'latin1.txt');
    await writeFile(invalidUtf8, Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a])); // "café" in Latin-1
    const refused = await run('stego', 'embed', '--mode', 'seed-text', invalidUtf8, '-o', out);
    expect(refused.code).toBe(ExitCode.badInput);
    expect(refused.stderr).toMatch(/latin1\.txt is not valid UTF-8/);

    // Allowed whitespace controls and a byte-order mark come back byte for byte.
    const original = Buffer.from('\ufeffcafé\tcolumns\r\nline two\u000b\u000c end\n', 'utf8');
    const textFile = join(dir, 'exact.txt');
    await writeFile(textFile, original);
    expect((await run('stego', 'embed', '--mode', 'seed-text', textFile, '-o', out)).code).toBe(0);
    const back = join(dir, 'exact-back.txt');
    expect((await run('stego', 'extract', '--mode', 'seed-text', out, '-o', back)).code).toBe(0);
    expect(Buffer.from(await readFile(back)).equals(original)).toBe(true);
  });

  it('prints control characters in a hidden message escaped', async () => {
    const out = join(dir, 'message.png');
    const message = 'hi\u001b]0;owned\u0007 there';
    expect((await run('stego', 'embed', sample, '-o', out, '--message', message)).code).toBe(0);
    const extracted = await run('stego', 'extract', out);
    expect(extracted.stdout).toContain('message: hi\\u{001b}]0;owned\\u{0007} there');
    expect(extracted.stdout).not.toContain('\u001b');
    const json = JSON.parse((await run('stego', 'extract', out, '--json')).stdout);
    expect(json.message).toBe(message); // JSON keeps the exact text
  });

  it('capacity --hidden exits as embed does, and suggests --scale-cover only where it helps', async () => {
    const huge = join(dir, 'huge-header.png');
    const ihdr = Buffer.from([0, 0, 0xea, 0x60, 0, 0, 0xea, 0x60, 8, 2, 0, 0, 0]); // 60000x60000
    const { pngChunk } = await import('./helpers.js');
    const { deflateSync } = await import('node:zlib');
    await writeFile(
      huge,
      Buffer.concat([
        Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
        pngChunk('IHDR', ihdr),
        pngChunk('IDAT', deflateSync(Buffer.alloc(100))),
        pngChunk('IEND', new Uint8Array(0)),
      ]),
    );
    const capacityRun = await run('stego', 'capacity', '--hidden', huge);
    const embedRun = await run('stego', 'embed', huge, '-o', join(dir, 'never.png'));
    expect(embedRun.code).toBe(ExitCode.badInput);
    expect(capacityRun.code).toBe(embedRun.code);
    expect(capacityRun.stderr).toBe(embedRun.stderr);

    const small = packagePath('assets', 'samples', 'small.png');
    const hint = /or add --scale-cover to scale the cover up/;
    const noScale = await run('stego', 'embed', sample, '--cover', small, '-o', join(dir, 's.png'));
    expect(noScale.code).toBe(ExitCode.capacity);
    expect(noScale.stderr).toMatch(hint);
    const capacityNoScale = await run('stego', 'capacity', '--cover', small, '--hidden', sample);
    expect(capacityNoScale.code).toBe(ExitCode.capacity);
    expect(capacityNoScale.stdout).toMatch(hint);
    const scaled = await run(
      'stego',
      'embed',
      sample,
      '--cover',
      small,
      '--scale-cover',
      '-o',
      join(dir, 's.png'),
      '--json',
    );
    expect(scaled.code).toBe(0);
    expect(JSON.parse(scaled.stdout).scaleStep).toBeGreaterThan(0);
    const capped = await run(
      'stego',
      'embed',
      packagePath('assets', 'samples', 'alpha.png'), // 122 KB in 49k pixels
      '--cover',
      small,
      '--scale-cover',
      '--max-pixels',
      '200000',
      '-o',
      join(dir, 's.png'),
    );
    expect(capped.code).toBe(ExitCode.capacity);
    expect(capped.stderr).toMatch(/scaling the cover up stops at 200000 pixels/);
    expect(capped.stderr).not.toMatch(hint);
  });

  it('runs the demo', async () => {
    const demo = await run('demo');
    expect(demo.code).toBe(0);
    expect(demo.stdout).toMatch(/byte-identical: yes/);
    expect(demo.stdout).toMatch(/2 views left/);
  });
});

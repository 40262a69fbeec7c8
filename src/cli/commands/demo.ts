/**
 * `cloudp2p demo`: a short local run of the steganography engine (what `npm start` does
 * until the cloud exists): hide a sample photo with access rights in the default cover,
 * extract it, check it is byte-identical, record a view, and round-trip a seed-format text.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import {
  embedImage,
  embedSeedTextImage,
  extractImage,
  extractSeedTextImage,
  plainImage,
  updateConsumedViews,
  viewsLeft,
} from '../../stego/index.js';
import { CloudP2PError } from '../../util/errors.js';
import { packagePath } from '../../util/package-info.js';
import { checkOutputFolder, writeOutputFile } from '../output-file.js';

async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const result = await work();
  return [result, performance.now() - started];
}

async function runDemo(options: { outDir?: string }): Promise<void> {
  if (options.outDir) await checkOutputFolder(options.outDir, 'the demo PNGs');
  const samplePath = packagePath('assets', 'samples', 'photo.jpg');
  const hidden = new Uint8Array(await readFile(samplePath));
  const say = (line: string): void => void process.stdout.write(`${line}\n`);
  say(`cloudp2p engine demo: hiding ${samplePath} (${hidden.length} bytes, JPEG)`);

  const rights = {
    owner: 'alice',
    imageId: 'demo-photo',
    viewers: [{ username: 'bob', quota: 3 }],
  };
  // The first call decodes the default cover; the second shows the steady-state cost.
  const [, firstMs] = await timed(() => embedImage(hidden, { rights, message: 'hello bob' }));
  const [embedded, embedMs] = await timed(() =>
    embedImage(hidden, { rights, message: 'hello bob' }),
  );
  say(
    `embedded into the default ${embedded.width}x${embedded.height} cover: PNG ${embedded.png.length} bytes, ` +
      `${embedded.embeddedBytes}/${embedded.capacityBytes} bytes used, ${embedMs.toFixed(1)} ms ` +
      `(first call incl. cover decode ${firstMs.toFixed(1)} ms)`,
  );

  const [payload, extractMs] = await timed(() => extractImage(embedded.png));
  const extracted = plainImage(payload);
  const identical = Buffer.from(extracted.bytes).equals(Buffer.from(hidden));
  say(
    `extracted in ${extractMs.toFixed(1)} ms: ${extracted.mediaType}, ${extracted.bytes.length} bytes, ` +
      `byte-identical: ${identical ? 'yes' : 'NO'}; owner ${payload.rights?.owner}, bob has ` +
      `${viewsLeft(payload, 'bob')} views, message "${payload.message}"`,
  );
  if (!identical)
    throw new CloudP2PError('demo_failed', 'the extracted image differs from the original');

  const [viewed, viewMs] = await timed(() =>
    updateConsumedViews(embedded.png, [{ username: 'bob', consumed: 1 }]),
  );
  const afterView = await extractImage(viewed.png);
  say(
    `bob viewed it once (counter rewritten in ${viewMs.toFixed(1)} ms): ${viewsLeft(afterView, 'bob')} views left`,
  );

  const [seed, seedMs] = await timed(() =>
    embedSeedTextImage('Hello from the seed CloudP2P format'),
  );
  say(
    `seed-text mode: "${await extractSeedTextImage(seed.png)}" (embedded in ${seedMs.toFixed(1)} ms)`,
  );

  if (options.outDir) {
    await writeOutputFile(join(options.outDir, 'demo-stego.png'), embedded.png, 'the demo PNG');
    await writeOutputFile(join(options.outDir, 'demo-seed-text.png'), seed.png, 'the demo PNG');
    say(`wrote demo-stego.png and demo-seed-text.png to ${options.outDir}`);
  }
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('run a short local demo of the steganography engine')
    .option('--out-dir <dir>', 'also write the produced PNGs to this folder')
    .action((options: { outDir?: string }) => runDemo(options));
}

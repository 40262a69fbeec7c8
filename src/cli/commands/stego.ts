/**
 * `cloudp2p stego embed|extract|capacity`: the steganography engine from the command line.
 * Exit codes (src/util/errors.ts): 0 ok, 2 usage, 3 bad input, 4 no payload,
 * 5 payload corrupted, 6 does not fit. `--json` prints one JSON object for scripts.
 */
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import {
  DEFAULT_MAX_PIXELS,
  capacity,
  containerSize,
  embedImage,
  embedSeedTextImage,
  extractImage,
  extractSeedTextImage,
  hiddenMediaTypeOf,
  plainImage,
  seedTextSize,
  smallestCoverFor,
} from '../../stego/index.js';
import type { AccessRights, ContainerPayload, ViewerGrant } from '../../stego/index.js';
import { CloudP2PError, ExitCode, UsageError } from '../../util/errors.js';
import { collectViewer, parsePositiveInteger, readInputFile } from '../options.js';

type Mode = 'container' | 'seed-text';

interface CommonOptions {
  maxPixels: number;
  json?: boolean;
}

const modeOption = (): Option =>
  new Option(
    '--mode <mode>',
    'container (cloudp2p format) or seed-text (the seed CloudP2P text format)',
  )
    .choices(['container', 'seed-text'])
    .default('container');

const maxPixelsOption = (): Option =>
  new Option('--max-pixels <count>', 'refuse images with more pixels than this')
    .argParser(parsePositiveInteger)
    .default(DEFAULT_MAX_PIXELS);

function print(json: boolean | undefined, value: object, lines: string[]): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${lines.join('\n')}\n`);
}

interface EmbedOptions extends CommonOptions {
  out: string;
  cover?: string;
  scaleCover?: boolean;
  mode: Mode;
  owner?: string;
  imageId?: string;
  viewer: ViewerGrant[];
  message?: string;
  text?: string;
}

function rightsFrom(options: EmbedOptions, hidden: Uint8Array): AccessRights | undefined {
  if (options.owner === undefined) {
    if (options.viewer.length > 0 || options.imageId !== undefined) {
      throw new UsageError('--viewer and --image-id need --owner');
    }
    return undefined;
  }
  // Default image id: derived from the hidden file, so re-running gives the same output.
  const imageId =
    options.imageId ?? `img-${createHash('sha256').update(hidden).digest('hex').slice(0, 16)}`;
  return { owner: options.owner, imageId, viewers: options.viewer };
}

async function runEmbed(file: string | undefined, options: EmbedOptions): Promise<void> {
  const cover = options.cover ? await readInputFile(options.cover, 'cover') : undefined;
  const coverChoice = {
    ...(cover ? { cover } : {}),
    scaleCover: options.scaleCover === true,
    maxPixels: options.maxPixels,
  };
  const started = performance.now();
  let result;
  let summary: Record<string, unknown>;
  if (options.mode === 'seed-text') {
    if ((file === undefined) === (options.text === undefined)) {
      throw new UsageError(
        'seed-text mode takes the text from --text or from a UTF-8 file, not both',
      );
    }
    const text =
      options.text ?? new TextDecoder().decode(await readInputFile(file as string, 'text file'));
    result = await embedSeedTextImage(text, coverChoice);
    summary = { mode: 'seed-text', textBytes: seedTextSize(text) - 4 };
  } else {
    if (file === undefined) throw new UsageError('container mode needs the image file to hide');
    if (options.text !== undefined)
      throw new UsageError('--text is for --mode seed-text; use --message');
    const hidden = await readInputFile(file, 'hidden image');
    const rights = rightsFrom(options, hidden);
    result = await embedImage(hidden, {
      ...coverChoice,
      ...(rights ? { rights } : {}),
      ...(options.message !== undefined ? { message: options.message } : {}),
    });
    summary = { mode: 'container', hiddenBytes: hidden.length, ...(rights ? { rights } : {}) };
  }
  await writeFile(options.out, result.png);
  const elapsed_ms = performance.now() - started;
  print(
    options.json,
    {
      ...summary,
      out: options.out,
      width: result.width,
      height: result.height,
      embeddedBytes: result.embeddedBytes,
      capacityBytes: result.capacityBytes,
      scaleStep: result.scaleStep,
      pngBytes: result.png.length,
      elapsed_ms: Math.round(elapsed_ms * 10) / 10,
    },
    [
      `wrote ${options.out}: ${result.width}x${result.height} PNG, ${result.png.length} bytes`,
      `hid ${result.embeddedBytes} of ${result.capacityBytes} bytes (${options.mode})` +
        (result.scaleStep > 0 ? `, cover scaled up (step ${result.scaleStep})` : ''),
      `took ${elapsed_ms.toFixed(1)} ms`,
    ],
  );
}

interface ExtractOptions extends CommonOptions {
  out?: string;
  mode: Mode;
}

function describePayload(payload: ContainerPayload): string[] {
  const lines = [
    payload.image
      ? `hidden image: ${payload.image.mediaType}, ${payload.image.bytes.length} bytes`
      : `hidden image: sealed to its viewer (${payload.sealedImage.length} bytes encrypted)`,
  ];
  if (payload.ownerSignature)
    lines.push(`rights signed by the owner, version ${payload.ownerSignature.version}`);
  if (payload.rights) {
    lines.push(`owner: ${payload.rights.owner}`, `image id: ${payload.rights.imageId}`);
    for (const viewer of payload.rights.viewers) {
      const consumed =
        payload.consumedViews?.find((entry) => entry.username === viewer.username)?.consumed ?? 0;
      lines.push(`viewer: ${viewer.username} quota ${viewer.quota}, consumed ${consumed}`);
    }
  } else {
    lines.push('access rights: none');
  }
  if (payload.message !== undefined) lines.push(`message: ${payload.message}`);
  return lines;
}

async function runExtract(file: string, options: ExtractOptions): Promise<void> {
  const image = await readInputFile(file, 'image');
  const limits = { maxPixels: options.maxPixels };
  if (options.mode === 'seed-text') {
    const text = await extractSeedTextImage(image, limits);
    if (options.out) await writeFile(options.out, text);
    print(options.json, { mode: 'seed-text', text }, [options.out ? `wrote ${options.out}` : text]);
    return;
  }
  const payload = await extractImage(image, limits);
  if (options.out) await writeFile(options.out, plainImage(payload).bytes);
  const lines = describePayload(payload);
  if (options.out) lines.push(`wrote the hidden image to ${options.out}`);
  const hiddenBytes = payload.image ? payload.image.bytes : payload.sealedImage;
  print(
    options.json,
    {
      mode: 'container',
      mediaType: payload.image?.mediaType ?? null,
      sealed: payload.sealedImage !== undefined,
      hiddenBytes: hiddenBytes.length,
      sha256: createHash('sha256').update(hiddenBytes).digest('hex'),
      rightsVersion: payload.ownerSignature?.version ?? null,
      rights: payload.rights ?? null,
      consumedViews: payload.consumedViews ?? [],
      message: payload.message ?? null,
      ...(options.out ? { out: options.out } : {}),
    },
    lines,
  );
}

interface CapacityOptions extends CommonOptions {
  cover?: string;
  hidden?: string;
}

async function runCapacity(options: CapacityOptions): Promise<void> {
  const cover = options.cover ? await readInputFile(options.cover, 'cover') : undefined;
  const report = await capacity({ ...(cover ? { cover } : {}), maxPixels: options.maxPixels });
  const lines = [
    `cover: ${report.width}x${report.height}${options.cover ? '' : ' (default cover)'}`,
    `capacity: ${report.capacityBytes} bytes`,
    `largest hidden image (no rights, no message): ${report.maxHiddenImageBytes} bytes`,
    `largest seed-format text: ${report.maxSeedTextBytes} bytes`,
  ];
  let fit: Record<string, unknown> = {};
  if (options.hidden) {
    const hidden = await readInputFile(options.hidden, 'hidden image');
    const mediaType = hiddenMediaTypeOf(hidden);
    if (!mediaType) {
      throw new CloudP2PError(
        'image_invalid',
        `${options.hidden} is not a PNG or JPEG image`,
        ExitCode.badInput,
      );
    }
    const needed = containerSize({ image: { mediaType, bytes: hidden } });
    const fits = needed <= report.capacityBytes;
    const smallest = smallestCoverFor(needed, report.width, report.height);
    fit = { neededBytes: needed, fits, smallestCover: smallest };
    lines.push(
      `${options.hidden} needs ${needed} bytes: ${fits ? 'fits' : `does not fit; smallest cover ${smallest.width}x${smallest.height}`}`,
    );
    if (!fits) process.exitCode = ExitCode.capacity;
  }
  print(options.json, { ...report, ...fit }, lines);
}

export function registerStegoCommands(program: Command): void {
  const stego = program
    .command('stego')
    .description('hide an image (and its access rights) in a cover image, or read it back');

  stego
    .command('embed')
    .description('hide an image file (or, with --mode seed-text, a text) in a cover; writes a PNG')
    .argument('[file]', 'the PNG or JPEG to hide (seed-text mode: a UTF-8 text file)')
    .requiredOption('-o, --out <file>', 'where to write the stego PNG')
    .option('--cover <file>', 'cover image (PNG or JPEG); default: the shipped cover')
    .option('--scale-cover', 'scale the default cover up when the payload does not fit')
    .addOption(modeOption())
    .option('--owner <user>', 'owner of the image (adds an access-rights record)')
    .option('--image-id <id>', 'image id in the rights record (default: derived from the file)')
    .option(
      '--viewer <user:quota>',
      'a viewer and their number of views (repeatable)',
      collectViewer,
      [],
    )
    .option('--message <text>', 'a text message to carry along (container mode)')
    .option('--text <text>', 'the text to hide (seed-text mode)')
    .addOption(maxPixelsOption())
    .option('--json', 'print a JSON summary')
    .addHelpText(
      'after',
      '\nExit codes: 0 ok, 2 usage, 3 bad input, 6 payload does not fit (the message names the smallest cover that would).',
    )
    .action((file: string | undefined, options: EmbedOptions) => runEmbed(file, options));

  stego
    .command('extract')
    .description('read the payload hidden in an image')
    .argument('<image>', 'the stego image (PNG)')
    .option('-o, --out <file>', 'write the hidden image (or the seed text) to this file')
    .addOption(modeOption())
    .addOption(maxPixelsOption())
    .option('--json', 'print a JSON summary')
    .addHelpText(
      'after',
      '\nExit codes: 0 ok, 2 usage, 3 bad input, 4 no payload, 5 payload corrupted.',
    )
    .action((file: string, options: ExtractOptions) => runExtract(file, options));

  stego
    .command('capacity')
    .description('how many bytes a cover can hide (default: the shipped cover)')
    .option('--cover <file>', 'cover image (PNG or JPEG)')
    .option('--hidden <file>', 'also tell whether this PNG/JPEG fits (exit 6 if not)')
    .addOption(maxPixelsOption())
    .option('--json', 'print a JSON summary')
    .action((options: CapacityOptions) => runCapacity(options));
}

/**
 * `cloudp2p stego embed|extract|capacity`: the steganography engine from the command line.
 * Exit codes (src/util/errors.ts): 0 ok, 2 usage, 3 bad input, 4 no payload,
 * 5 payload corrupted, 6 does not fit, 9 signature invalid. `--json` prints one JSON object
 * for scripts.
 */
import { createHash } from 'node:crypto';
import { extname } from 'node:path';
import { Command, Option } from 'commander';
import {
  CapacityError,
  DEFAULT_MAX_PIXELS,
  capacity,
  embedImage,
  embedSeedTextImage,
  extractImage,
  extractSeedTextImage,
  plainImage,
  rightsSignedBytes,
  seedTextSize,
} from '../../stego/index.js';
import type {
  AccessRights,
  ContainerPayload,
  HiddenMediaType,
  ViewerGrant,
} from '../../stego/index.js';
import { verify } from '../../identity/keys.js';
import { CloudP2PError, ExitCode, UsageError } from '../../util/errors.js';
import { printable } from '../../util/printable.js';
import { collectViewer, parsePositiveInteger, readInputFile } from '../options.js';
import { checkOutputFile, writeOutputFile } from '../output-file.js';

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

/**
 * Reads a seed-mode text file exactly: invalid UTF-8 is refused (never replaced by U+FFFD)
 * and a byte-order mark is kept, so `extract -o` gives back the same bytes.
 */
async function readTextFile(path: string): Promise<string> {
  const bytes = await readInputFile(path, 'text file');
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new CloudP2PError(
      'text_invalid',
      `the text file ${path} is not valid UTF-8; seed-text mode hides UTF-8 text only`,
      ExitCode.badInput,
    );
  }
}

/** embed's capacity error, with the option that would help when there is one. */
function withScalingHint(err: unknown, scaleCover: boolean | undefined): unknown {
  if (err instanceof CapacityError && !scaleCover && !err.scalingCapped) {
    err.message += ' (or add --scale-cover to scale the cover up)';
  }
  return err;
}

async function runEmbed(file: string | undefined, options: EmbedOptions): Promise<void> {
  try {
    await embedToFile(file, options);
  } catch (err) {
    throw withScalingHint(err, options.scaleCover);
  }
}

async function embedToFile(file: string | undefined, options: EmbedOptions): Promise<void> {
  await checkOutputFile(options.out, 'the stego PNG', 'stego.png');
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
    const text = options.text ?? (await readTextFile(file as string));
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
  await writeOutputFile(options.out, result.png, 'the stego PNG');
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
    lines.push(
      `rights signed by the key ${Buffer.from(payload.ownerSignature.publicKey).toString('hex')}, version ${payload.ownerSignature.version} (signature valid; an agent also checks that key is the owner's in the directory)`,
    );
  if (payload.rights) {
    // Rights fields are restricted to [A-Za-z0-9._:-] by the format; only the message is free text.
    lines.push(`owner: ${payload.rights.owner}`, `image id: ${payload.rights.imageId}`);
    for (const viewer of payload.rights.viewers) {
      const consumed =
        payload.consumedViews?.find((entry) => entry.username === viewer.username)?.consumed ?? 0;
      lines.push(`viewer: ${viewer.username} quota ${viewer.quota}, consumed ${consumed}`);
    }
  } else {
    lines.push('access rights: none');
  }
  if (payload.message !== undefined) lines.push(`message: ${printable(payload.message)}`);
  return lines;
}

const EXTENSIONS: Record<HiddenMediaType, string[]> = {
  'image/png': ['.png'],
  'image/jpeg': ['.jpg', '.jpeg', '.jpe', '.jfif'],
};

/** A note (not an error: the user chose the name) when `out` has another format's extension. */
function extensionNote(out: string, mediaType: HiddenMediaType): string | undefined {
  const extension = extname(out).toLowerCase();
  if (extension === '' || EXTENSIONS[mediaType].includes(extension)) return undefined;
  const kind = mediaType === 'image/png' ? 'PNG' : 'JPEG';
  return `note: the hidden image is a ${kind} (the bytes were written unchanged); ${out} has the extension ${extension}`;
}

/**
 * Signed rights must verify with the key they carry, else nothing is written or described as
 * signed: the record was altered or forged. (Whether that key is the owner's is a question for
 * the directory, which the peer agent asks; offline, the key is printed for comparison.)
 */
function checkOwnerSignature(payload: ContainerPayload): void {
  const signature = payload.ownerSignature;
  if (!signature) return;
  const signed = rightsSignedBytes(payload, signature.version);
  if (!verify(signature.publicKey, signed, signature.signature))
    throw new CloudP2PError(
      'signature_invalid',
      `signature invalid: the access rights${payload.rights ? ` of ${payload.rights.owner}/${payload.rights.imageId}` : ''} (version ${signature.version}) are not signed by the key they name; the image was altered or forged`,
      ExitCode.signatureInvalid,
    );
}

async function runExtract(file: string, options: ExtractOptions): Promise<void> {
  if (options.out) {
    const what = options.mode === 'seed-text' ? 'the text' : 'the hidden image';
    await checkOutputFile(
      options.out,
      what,
      options.mode === 'seed-text' ? 'hidden.txt' : undefined,
    );
  }
  const image = await readInputFile(file, 'image');
  const limits = { maxPixels: options.maxPixels };
  if (options.mode === 'seed-text') {
    const text = await extractSeedTextImage(image, limits);
    if (options.out) await writeOutputFile(options.out, text, 'the text');
    print(options.json, { mode: 'seed-text', text }, [
      options.out ? `wrote ${options.out}` : printable(text, { keepLines: true }),
    ]);
    return;
  }
  const payload = await extractImage(image, limits);
  checkOwnerSignature(payload);
  const lines = describePayload(payload);
  if (options.out) {
    const hidden = plainImage(payload);
    await writeOutputFile(options.out, hidden.bytes, 'the hidden image');
    lines.push(`wrote the hidden image to ${options.out}`);
    const note = extensionNote(options.out, hidden.mediaType);
    if (note) process.stderr.write(`${note}\n`);
  }
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
  scaleCover?: boolean;
}

async function runCapacity(options: CapacityOptions): Promise<void> {
  const cover = options.cover ? await readInputFile(options.cover, 'cover') : undefined;
  const hidden = options.hidden ? await readInputFile(options.hidden, 'hidden image') : undefined;
  // The same checks as embed, in the same order: a file embed refuses is refused here.
  const report = await capacity({
    ...(cover ? { cover } : {}),
    ...(hidden ? { hidden } : {}),
    maxPixels: options.maxPixels,
    scaleCover: options.scaleCover === true,
  });
  const coverName = options.cover ? '' : ' (default cover)';
  const scaled = report.scaleStep > 0 ? `, scaled up (step ${report.scaleStep})` : '';
  const lines = [
    `cover: ${report.width}x${report.height}${coverName}${scaled}`,
    `capacity: ${report.capacityBytes} bytes`,
    `largest hidden image (no rights, no message): ${report.maxHiddenImageBytes} bytes`,
    `largest seed-format text: ${report.maxSeedTextBytes} bytes`,
  ];
  const { fit, ...rest } = report;
  if (fit) {
    const problem = fit.problem
      ? (withScalingHint(
          new CapacityError(
            fit.problem,
            fit.neededBytes,
            report.capacityBytes,
            fit.smallestCover,
            fit.scalingCapped,
          ),
          options.scaleCover,
        ) as Error)
      : undefined;
    lines.push(
      `${options.hidden} needs ${fit.neededBytes} bytes: ${problem ? `does not fit: ${problem.message}` : 'fits'}`,
    );
    if (problem) process.exitCode = ExitCode.capacity;
    print(
      options.json,
      { ...rest, ...fit, ...(problem ? { problem: problem.message } : {}) },
      lines,
    );
    return;
  }
  print(options.json, rest, lines);
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
    .option('--scale-cover', 'scale the cover up when the payload does not fit')
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
    .option(
      '-o, --out <file>',
      'write the hidden image (its bytes unchanged) or the seed text (exactly, as UTF-8) to this file',
    )
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
    .option(
      '--hidden <file>',
      'also tell whether embed would take this PNG/JPEG (exit 3 if embed refuses the file, 6 if it does not fit)',
    )
    .option('--scale-cover', 'as embed --scale-cover: the cover may be scaled up to fit --hidden')
    .addOption(maxPixelsOption())
    .option('--json', 'print a JSON summary')
    .action((options: CapacityOptions) => runCapacity(options));
}

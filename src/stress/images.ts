/**
 * The image set a stress run sends: files and folders given on the command line (PNG and JPEG
 * only), or the samples shipped in assets/samples. Each image's task payload is built once.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { buildTaskPayload } from '../client/payload.js';
import { CloudP2PError, ExitCode, errorMessage } from '../util/errors.js';
import { packagePath } from '../util/package-info.js';

export interface StressImage {
  name: string;
  bytes: Uint8Array;
  payload: Uint8Array;
}

export const IMAGE_LIMITS = {
  max_images: 1000,
  /** The servers' default max_image_mb is 16; stay well below so no request is refused. */
  max_image_bytes: 8 * 1024 * 1024,
} as const;

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);

export function defaultImagePaths(): string[] {
  return [packagePath('assets', 'samples')];
}

/** Expands folders (their PNG/JPEG files, sorted) and loads every image. */
export function loadImageSet(paths: readonly string[]): StressImage[] {
  return expandImagePaths(paths).map(loadOne);
}

/** The image files named by `paths`: files as given, folders as their PNG/JPEG files, sorted. */
export function expandImagePaths(paths: readonly string[]): string[] {
  const files: string[] = [];
  for (const path of paths) {
    let isFolder: boolean;
    try {
      isFolder = statSync(path).isDirectory();
    } catch (err) {
      throw new CloudP2PError(
        'file_unreadable',
        `cannot read image path ${path}: ${errorMessage(err)}`,
        ExitCode.badInput,
      );
    }
    if (isFolder) {
      const inside = readdirSync(path)
        .filter((name) => IMAGE_EXTENSIONS.has(extname(name).toLowerCase()))
        .sort()
        .map((name) => join(path, name));
      if (inside.length === 0)
        throw new CloudP2PError(
          'no_images',
          `folder ${path} holds no .png, .jpg or .jpeg file`,
          ExitCode.badInput,
        );
      files.push(...inside);
    } else files.push(path);
    if (files.length > IMAGE_LIMITS.max_images)
      throw new CloudP2PError(
        'too_many_images',
        `more than ${IMAGE_LIMITS.max_images} images given; pick a smaller set`,
        ExitCode.badInput,
      );
  }
  return files;
}

function loadOne(path: string): StressImage {
  const size = statSync(path).size;
  if (size > IMAGE_LIMITS.max_image_bytes)
    throw new CloudP2PError(
      'image_too_large',
      `image ${path} is ${size} bytes; the stress tool sends images up to ${IMAGE_LIMITS.max_image_bytes} bytes`,
      ExitCode.badInput,
    );
  const bytes = new Uint8Array(readFileSync(path));
  try {
    return { name: basename(path), bytes, payload: buildTaskPayload(bytes) };
  } catch (err) {
    throw new CloudP2PError(
      'image_unsupported',
      `image ${path}: ${errorMessage(err)}`,
      ExitCode.badInput,
    );
  }
}

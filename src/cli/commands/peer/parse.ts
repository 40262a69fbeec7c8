/** Argument parsers of the `peer` commands: the id rules of src/protocol/ids.ts, as CLI errors. */
import { InvalidArgumentError } from 'commander';
import { isImageId, isRequestId, isUsername, USERNAME_RULE } from '../../../protocol/ids.js';

export function parseUsername(value: string): string {
  if (!isUsername(value)) throw new InvalidArgumentError(`expected ${USERNAME_RULE}`);
  return value;
}

export function parseImageId(value: string): string {
  if (!isImageId(value))
    throw new InvalidArgumentError('expected an image id: 1-64 of a-z 0-9 _ -');
  return value;
}

export function parseRequestId(value: string): string {
  if (!isRequestId(value))
    throw new InvalidArgumentError('expected a request id (a lowercase UUID, see `peer inbox`)');
  return value;
}

export function parseCount(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    return n;
  };
}

/** `owner/image_id`. */
export function parseImageRef(value: string): { owner: string; imageId: string } {
  const [owner, imageId, ...rest] = value.split('/');
  if (rest.length > 0 || !owner || !imageId || !isUsername(owner) || !isImageId(imageId))
    throw new InvalidArgumentError('expected <owner>/<image_id>, e.g. alice/i3k9x0p2q7mz');
  return { owner, imageId };
}

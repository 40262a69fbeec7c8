/** Argument parsers of the `peer` commands: the id rules of src/protocol/ids.ts, as CLI errors. */
import { InvalidArgumentError } from 'commander';
import {
  IMAGE_ID_RULE,
  isImageId,
  isRequestId,
  isUsername,
  USERNAME_RULE,
  UUID_RULE,
} from '../../../protocol/ids.js';
import { LISTEN, parsePort } from '../../../transport/endpoint.js';

export function parseUsername(value: string): string {
  if (!isUsername(value)) throw new InvalidArgumentError(`expected ${USERNAME_RULE}`);
  return value;
}

export function parseImageId(value: string): string {
  if (!isImageId(value)) throw new InvalidArgumentError(`expected an image id: ${IMAGE_ID_RULE}`);
  return value;
}

export function parseRequestId(value: string): string {
  if (!isRequestId(value))
    throw new InvalidArgumentError(`expected a request id: ${UUID_RULE} (see \`peer inbox\`)`);
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

/** A local port to listen on (0: any free port), by the one endpoint rule. */
export function parseListenPort(value: string): number {
  return parsePort(value, LISTEN, (problem) => new InvalidArgumentError(problem));
}

/** `owner/image_id`. */
export function parseImageRef(value: string): { owner: string; imageId: string } {
  const [owner, imageId, ...rest] = value.split('/');
  if (rest.length > 0 || !owner || !imageId || !isUsername(owner) || !isImageId(imageId))
    throw new InvalidArgumentError(
      `expected <owner>/<image_id> (${USERNAME_RULE}, then ${IMAGE_ID_RULE}), e.g. alice/i3k9x0p2q7mz`,
    );
  return { owner, imageId };
}

/**
 * Hides a container in the default cover exactly as a server's encryption worker does
 * (src/server/encrypt-worker.ts), for tests that need copies without a cloud.
 */
import {
  decodeContainer,
  embedContainer,
  encodePng,
  loadCoverSet,
  type CoverSet,
} from '../../../../src/stego/index.js';

let covers: Promise<CoverSet> | null = null;

export async function cloudEmbed(container: Uint8Array): Promise<Uint8Array> {
  const set = await (covers ??= loadCoverSet());
  const payload = decodeContainer(container);
  const cover = set.coverFor(container.length, true);
  return encodePng(embedContainer(cover.raster, payload).raster, cover.pngCache);
}

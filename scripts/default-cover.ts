/**
 * The default cover (assets/cover.png), which is also the "default image" a viewer sees when
 * access is refused: a padlock on a calm blue-green background inside a light frame.
 *
 * Why this picture:
 *  - It says what it means: a viewer who gets it sees at once that the image is locked, and
 *    cannot mistake it for a real photo (the sample assets/samples/photo.jpg is a landscape).
 *  - It compresses: flat areas and smooth gradients, no sensor noise. Pixels the payload does
 *    not touch cost next to nothing in the PNG, so a result is about as large as the hidden
 *    image needs (docs/RESULTS.md, "Default cover"), not 1.4 MB whatever is hidden.
 *  - The cost: LSB changes are easier to detect statistically in flat areas than in a noisy
 *    photo. cloudp2p does not rely on the hiding being undetectable (the hidden image is
 *    signed and sealed to its viewer, docs/SECURITY.md); a user who wants a photo-like cover
 *    can pass any PNG or JPEG (`stego embed --cover`, server `[encryption] cover`).
 *
 * Deterministic: only + - * / and Math.sqrt/min/max/abs/floor/round on doubles (exactly specified by
 * IEEE 754 / ECMAScript), so every machine renders the same bytes; shapes are placed in units
 * of the height, so any size gives the same picture.
 */
import type { SyntheticPhoto } from './synthetic-photo.js';

type Rgb = readonly [number, number, number];

const SKY_TOP: Rgb = [22, 40, 72];
const SKY_BOTTOM: Rgb = [34, 104, 112];
const STRIPE_LIGHTEN = 0.07;
const FRAME: Rgb = [226, 234, 240];
const SHACKLE: Rgb = [196, 204, 214];
const BODY_TOP: Rgb = [246, 196, 84];
const BODY_BOTTOM: Rgb = [214, 146, 38];
const KEYHOLE: Rgb = [52, 36, 24];

export function renderDefaultCover(size: { width: number; height: number }): SyntheticPhoto {
  const { width, height } = size;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 16 || height < 16)
    throw new RangeError(`the cover needs integer sides of at least 16, got ${width}x${height}`);
  const data = new Uint8Array(width * height * 3);
  const unit = height; // shapes are sized in heights
  const px = 1 / unit; // one pixel, in those units
  const cx = width / 2 / unit;
  const lock = { cx, top: 0.5, width: 0.34, height: 0.28, radius: 0.035 };
  const shackle = { cy: lock.top, outer: 0.125, inner: 0.08, legBottom: lock.top + 0.02 };
  const colour = [0, 0, 0];
  let offset = 0;
  for (let row = 0; row < height; row++) {
    const y = (row + 0.5) / unit;
    for (let column = 0; column < width; column++) {
      const x = (column + 0.5) / unit;
      // Background: a vertical gradient with wide, slightly lighter diagonal stripes.
      const t = y;
      for (let c = 0; c < 3; c++)
        colour[c] =
          (SKY_TOP[c] as number) + ((SKY_BOTTOM[c] as number) - (SKY_TOP[c] as number)) * t;
      const stripe = coverage(Math.abs(wrap(x + y, 0.24) - 0.12) - 0.05, px);
      mixInto(colour, [255, 255, 255], stripe * STRIPE_LIGHTEN);
      // A light frame inset from the edges.
      const aspect = width / unit;
      const inset = 0.03;
      const frameDistance = Math.abs(
        roundedBox(x - aspect / 2, y - 0.5, aspect / 2 - inset, 0.5 - inset, 0.03),
      );
      mixInto(colour, FRAME, coverage(frameDistance - 0.004, px));
      // The shackle: the upper half of a ring, and its two legs down into the body.
      const dx = x - cx;
      const dy = y - shackle.cy;
      const ring = Math.abs(Math.sqrt(dx * dx + dy * dy) - (shackle.outer + shackle.inner) / 2);
      const ringHalf = (shackle.outer - shackle.inner) / 2;
      const ringDistance = dy <= 0 ? ring - ringHalf : legDistance(dx, y, shackle, ringHalf);
      mixInto(colour, SHACKLE, coverage(ringDistance, px));
      // The body: a rounded box, lighter at the top.
      const bodyDistance = roundedBox(
        x - cx,
        y - (lock.top + lock.height / 2),
        lock.width / 2,
        lock.height / 2,
        lock.radius,
      );
      const shade = Math.min(1, Math.max(0, (y - lock.top) / lock.height));
      const body: Rgb = [
        (BODY_TOP[0] as number) + ((BODY_BOTTOM[0] as number) - (BODY_TOP[0] as number)) * shade,
        (BODY_TOP[1] as number) + ((BODY_BOTTOM[1] as number) - (BODY_TOP[1] as number)) * shade,
        (BODY_TOP[2] as number) + ((BODY_BOTTOM[2] as number) - (BODY_TOP[2] as number)) * shade,
      ];
      mixInto(colour, body, coverage(bodyDistance, px));
      // The keyhole: a circle over a narrow slot.
      const holeY = lock.top + lock.height * 0.42;
      const hx = x - cx;
      const hy = y - holeY;
      const circle = Math.sqrt(hx * hx + hy * hy) - 0.03;
      const slot = roundedBox(hx, y - (holeY + 0.05), 0.012, 0.05, 0.006);
      mixInto(colour, KEYHOLE, coverage(Math.min(circle, slot), px));
      for (let c = 0; c < 3; c++) data[offset + c] = clampByte(colour[c] as number);
      offset += 3;
    }
  }
  return { width, height, channels: 3, data };
}

/** Signed distance to the shackle's legs (below the ring's centre line). */
function legDistance(
  dx: number,
  y: number,
  shackle: { cy: number; outer: number; inner: number; legBottom: number },
  half: number,
): number {
  const legX = (shackle.outer + shackle.inner) / 2;
  const across = Math.abs(Math.abs(dx) - legX) - half;
  const along = y - shackle.legBottom;
  return Math.max(across, along);
}

/** Signed distance to a box of half-sizes (hw, hh) with rounded corners, centred at 0. */
function roundedBox(x: number, y: number, hw: number, hh: number, radius: number): number {
  const qx = Math.abs(x) - hw + radius;
  const qy = Math.abs(y) - hh + radius;
  const ox = Math.max(qx, 0);
  const oy = Math.max(qy, 0);
  const outside = Math.sqrt(ox * ox + oy * oy);
  return outside + Math.min(Math.max(qx, qy), 0) - radius;
}

/** How much of a pixel a shape covers, from its signed distance (negative inside): 1 px of edge. */
function coverage(distance: number, pixel: number): number {
  return Math.min(1, Math.max(0, 0.5 - distance / pixel));
}

function wrap(value: number, period: number): number {
  return value - Math.floor(value / period) * period;
}

function mixInto(colour: number[], over: Rgb, amount: number): void {
  if (amount <= 0) return;
  for (let c = 0; c < 3; c++)
    colour[c] = (colour[c] as number) + ((over[c] as number) - (colour[c] as number)) * amount;
}

function clampByte(value: number): number {
  return Math.min(255, Math.max(0, Math.round(value)));
}

/**
 * A procedural "photograph": sky with clouds and a sun, two mountain ranges, a textured
 * meadow with a lake and a few shapes, lens vignetting and per-channel sensor noise.
 *
 * Why procedural: the default cover and the sample images must be committed, reproducible
 * from a fixed seed, and statistically close to real photos so that PNG size and speed
 * figures measured on them are honest (a flat or synthetic-looking image compresses far
 * better than a photo and would flatter the encoder).
 *
 * Determinism: only integer hashing, + - * / and Math.sqrt/floor/round (all exactly
 * specified by IEEE 754 / ECMAScript), so the same seed and size give the same pixels on
 * every machine and Node version. Coordinates are normalised to [0,1], so one seed renders
 * the same scene at any resolution.
 */

export interface SyntheticPhotoOptions {
  width: number;
  height: number;
  seed: number;
  /** Standard deviation of the per-channel sensor noise, in 8-bit levels. */
  noiseSigma?: number;
  /** 4 renders an alpha channel (opaque scene inside a soft-edged ellipse). */
  channels?: 3 | 4;
}

export interface SyntheticPhoto {
  width: number;
  height: number;
  channels: 3 | 4;
  data: Uint8Array;
}

const MAX_SYNTHETIC_PIXELS = 50_000_000;

export function renderSyntheticPhoto(options: SyntheticPhotoOptions): SyntheticPhoto {
  const { width, height, seed } = options;
  const channels = options.channels ?? 3;
  const noiseSigma = options.noiseSigma ?? 1.4;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`width and height must be positive integers, got ${width}x${height}`);
  }
  if (width * height > MAX_SYNTHETIC_PIXELS) {
    throw new RangeError(`at most ${MAX_SYNTHETIC_PIXELS} pixels, got ${width * height}`);
  }
  const scene = new Scene(seed >>> 0);
  const data = new Uint8Array(width * height * channels);
  const rng = new Mulberry32(seed ^ 0x5eed);
  const colour: [number, number, number] = [0, 0, 0];
  let offset = 0;
  for (let y = 0; y < height; y++) {
    const v = (y + 0.5) / height;
    for (let x = 0; x < width; x++) {
      const u = (x + 0.5) / width;
      scene.shade(u, v, width / height, colour);
      const vignette = 1 - 0.32 * ((u - 0.5) * (u - 0.5) + (v - 0.5) * (v - 0.5)) * 2;
      for (let c = 0; c < 3; c++) {
        const noisy = (colour[c] as number) * vignette + gaussianish(rng) * noiseSigma;
        data[offset + c] = clampByte(noisy);
      }
      if (channels === 4) {
        const dx = (u - 0.5) / 0.48;
        const dy = (v - 0.5) / 0.46;
        const edge = 1 - (dx * dx + dy * dy);
        data[offset + 3] = clampByte(smoothstep(0, 0.12, edge) * 255);
      }
      offset += channels;
    }
  }
  return { width, height, channels, data };
}

class Scene {
  private readonly noise: ValueNoise;
  private readonly sunU: number;
  private readonly sunV: number;
  private readonly farRidge: number;
  private readonly nearRidge: number;
  private readonly lakeTop: number;

  constructor(seed: number) {
    this.noise = new ValueNoise(seed);
    const rng = new Mulberry32(seed);
    this.sunU = 0.2 + 0.6 * rng.next();
    this.sunV = 0.12 + 0.12 * rng.next();
    this.farRidge = 0.38 + 0.06 * rng.next();
    this.nearRidge = 0.5 + 0.06 * rng.next();
    this.lakeTop = 0.72 + 0.04 * rng.next();
  }

  shade(u: number, v: number, aspect: number, out: [number, number, number]): void {
    const n = this.noise;
    // Sky: deep blue at the top, warm haze at the horizon, clouds from fractal noise.
    let r = lerp(40, 236, v * 1.6);
    let g = lerp(88, 208, v * 1.6);
    let b = lerp(170, 190, v * 1.6);
    const cloud = smoothstep(0.52, 0.78, n.fbm(u * 4 * aspect, v * 9, 5, 11));
    r = lerp(r, 248, cloud * 0.85);
    g = lerp(g, 246, cloud * 0.85);
    b = lerp(b, 244, cloud * 0.85);
    const du = (u - this.sunU) * aspect;
    const dv = v - this.sunV;
    const sunDistance2 = du * du + dv * dv;
    const glow = 1 / (1 + sunDistance2 * 180);
    r += 60 * glow;
    g += 45 * glow;
    b += 15 * glow;
    if (sunDistance2 < 0.0016) r = g = b = 255;

    // Far mountains: hazy blue-grey with soft shading.
    const far = this.farRidge - 0.12 * n.fbm(u * 3 * aspect, 0.5, 4, 23);
    if (v > far) {
      const shade = n.fbm(u * 12 * aspect, v * 12, 4, 31);
      const haze = smoothstep(far, far + 0.25, v);
      r = lerp(96 + 30 * shade, 120, haze * 0.3);
      g = lerp(110 + 30 * shade, 130, haze * 0.3);
      b = lerp(140 + 30 * shade, 150, haze * 0.3);
    }
    // Near hills: darker greens with rocky texture.
    const near = this.nearRidge - 0.1 * n.fbm(u * 5 * aspect, 1.5, 5, 47);
    if (v > near) {
      const texture = n.fbm(u * 40 * aspect, v * 40, 4, 53);
      const light = 0.7 + 0.5 * n.fbm(u * 6 * aspect, v * 6, 3, 59);
      r = (44 + 40 * texture) * light;
      g = (78 + 50 * texture) * light;
      b = (38 + 25 * texture) * light;
    }
    // Meadow with fine grass texture; a lake reflecting the sky.
    if (v > this.lakeTop) {
      const lakeEdge = 0.3 + 0.15 * n.fbm(v * 8, 2.5, 3, 61);
      if (u > lakeEdge && u < lakeEdge + 0.45 && v < 0.95) {
        const ripple = n.fbm(u * 60 * aspect, v * 8, 3, 67);
        r = 70 + 50 * ripple;
        g = 110 + 50 * ripple;
        b = 160 + 40 * ripple;
      } else {
        const grass = n.fbm(u * 150 * aspect, v * 60, 3, 71);
        r = 70 + 60 * grass;
        g = 110 + 70 * grass;
        b = 30 + 30 * grass;
      }
    }
    // Shapes: a red-roofed cabin and two round trees, soft-edged.
    const cabin = boxMask(u, v, 0.14, this.lakeTop - 0.04, 0.22, this.lakeTop + 0.06);
    if (cabin > 0) {
      const roof = v < this.lakeTop;
      r = lerp(r, roof ? 150 : 120, cabin);
      g = lerp(g, roof ? 40 : 86, cabin);
      b = lerp(b, roof ? 30 : 60, cabin);
    }
    for (const [cu, cv, radius] of [
      [0.8, this.lakeTop - 0.02, 0.05],
      [0.87, this.lakeTop + 0.01, 0.04],
    ] as const) {
      const tu = (u - cu) * aspect;
      const tv = v - cv;
      const tree = 1 - smoothstep(radius * 0.85, radius, Math.sqrt(tu * tu + tv * tv));
      if (tree > 0) {
        const leaves = n.fbm(u * 90 * aspect, v * 90, 3, 83);
        r = lerp(r, 20 + 30 * leaves, tree);
        g = lerp(g, 60 + 50 * leaves, tree);
        b = lerp(b, 25 + 20 * leaves, tree);
      }
    }
    out[0] = r;
    out[1] = g;
    out[2] = b;
  }
}

/** Lattice value noise with smoothstep interpolation; integer hashing only. */
class ValueNoise {
  constructor(private readonly seed: number) {}

  fbm(x: number, y: number, octaves: number, salt: number): number {
    let sum = 0;
    let amplitude = 0.5;
    let total = 0;
    let frequency = 1;
    for (let octave = 0; octave < octaves; octave++) {
      sum += amplitude * this.value(x * frequency, y * frequency, salt + octave);
      total += amplitude;
      amplitude *= 0.5;
      frequency *= 2;
    }
    return sum / total;
  }

  private value(x: number, y: number, salt: number): number {
    const ix = Math.floor(x);
    const iy = Math.floor(y);
    const fx = smooth01(x - ix);
    const fy = smooth01(y - iy);
    const a = this.lattice(ix, iy, salt);
    const b = this.lattice(ix + 1, iy, salt);
    const c = this.lattice(ix, iy + 1, salt);
    const d = this.lattice(ix + 1, iy + 1, salt);
    return lerp(lerp(a, b, fx), lerp(c, d, fx), fy);
  }

  private lattice(ix: number, iy: number, salt: number): number {
    let h = Math.imul(ix, 0x27d4eb2d) ^ Math.imul(iy, 0x165667b1) ^ Math.imul(salt, 0x9e3779b1);
    h ^= this.seed;
    h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
  }
}

/** Small, fast, seedable PRNG (public-domain Mulberry32). */
export class Mulberry32 {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

/** Approximately standard-normal: Irwin-Hall sum of four uniforms, rescaled to variance 1. */
function gaussianish(rng: Mulberry32): number {
  return (rng.next() + rng.next() + rng.next() + rng.next() - 2) * 1.7320508075688772;
}

function boxMask(u: number, v: number, u0: number, v0: number, u1: number, v1: number): number {
  const soft = 0.004;
  return (
    smoothstep(u0 - soft, u0 + soft, u) *
    (1 - smoothstep(u1 - soft, u1 + soft, u)) *
    smoothstep(v0 - soft, v0 + soft, v) *
    (1 - smoothstep(v1 - soft, v1 + soft, v))
  );
}

function smooth01(t: number): number {
  return t * t * (3 - 2 * t);
}

function smoothstep(edge0: number, edge1: number, x: number): number {
  const t = Math.min(1, Math.max(0, (x - edge0) / (edge1 - edge0)));
  return smooth01(t);
}

function lerp(a: number, b: number, t: number): number {
  const clamped = t < 0 ? 0 : t > 1 ? 1 : t;
  return a + (b - a) * clamped;
}

function clampByte(value: number): number {
  return value <= 0 ? 0 : value >= 255 ? 255 : Math.round(value);
}

/**
 * A literal-only deflate block writer (what zlib's Z_HUFFMAN_ONLY produces), in plain
 * TypeScript. For noisy photographic PNG data LZ77 matching does not pay, and writing the
 * Huffman codes ourselves is about twice as fast as calling zlib (no match bookkeeping,
 * no per-call allocation, histogram computed while filtering). Output: one dynamic-Huffman
 * block (BFINAL=0) followed by an empty stored block, i.e. exactly a zlib "sync flush",
 * so blocks from independent calls concatenate into one valid deflate stream.
 */

const LITERALS = 257; // 0..255 and end-of-block (256); no length codes are ever used
const END_OF_BLOCK = 256;
const MAX_CODE_BITS = 15;
const MAX_CODE_LENGTH_BITS = 7;
/** Order in which code-length-code lengths are written (RFC 1951, 3.2.7). */
const CODE_LENGTH_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/**
 * Huffman code lengths (<= maxBits) for the given frequencies. Deterministic: ties are
 * broken by symbol index. If the optimal tree is too deep, frequencies are flattened
 * (halved, kept >= 1) and the tree rebuilt; this converges in a few rounds.
 */
export function codeLengths(frequencies: ArrayLike<number>, maxBits: number): Uint8Array {
  const count = frequencies.length;
  const lengths = new Uint8Array(count);
  let weights = Array.from(frequencies);
  for (;;) {
    const used = [];
    for (let symbol = 0; symbol < count; symbol++)
      if ((weights[symbol] as number) > 0) used.push(symbol);
    lengths.fill(0);
    if (used.length === 0) return lengths;
    if (used.length === 1) {
      lengths[used[0] as number] = 1;
      return lengths;
    }
    // Two-queue Huffman construction over leaves sorted by (weight, symbol).
    used.sort((a, b) => (weights[a] as number) - (weights[b] as number) || a - b);
    const parent = new Int32Array(used.length * 2);
    const nodeWeight: number[] = used.map((symbol) => weights[symbol] as number);
    let leaf = 0;
    let internal = used.length;
    let nextInternal = used.length;
    const pick = (): number => {
      if (
        leaf < used.length &&
        (internal >= nextInternal ||
          (nodeWeight[leaf] as number) <= (nodeWeight[internal] as number))
      ) {
        return leaf++;
      }
      return internal++;
    };
    for (let merges = 0; merges < used.length - 1; merges++) {
      const a = pick();
      const b = pick();
      nodeWeight[nextInternal] = (nodeWeight[a] as number) + (nodeWeight[b] as number);
      parent[a] = nextInternal;
      parent[b] = nextInternal;
      nextInternal++;
    }
    const root = nextInternal - 1;
    const depth = new Int32Array(nextInternal);
    for (let node = root - 1; node >= 0; node--)
      depth[node] = (depth[parent[node] as number] as number) + 1;
    let tooDeep = false;
    for (let i = 0; i < used.length; i++) {
      const bits = depth[i] as number;
      if (bits > maxBits) tooDeep = true;
      lengths[used[i] as number] = bits;
    }
    if (!tooDeep) return lengths;
    weights = weights.map((weight) => (weight > 0 ? Math.max(1, weight >> 1) : 0));
  }
}

/** Canonical codes (RFC 1951, 3.2.2), bit-reversed for deflate's LSB-first bit order. */
export function canonicalCodes(lengths: Uint8Array): Uint16Array {
  const lengthCount = new Uint16Array(MAX_CODE_BITS + 1);
  for (const bits of lengths) lengthCount[bits]!++;
  lengthCount[0] = 0;
  const nextCode = new Uint16Array(MAX_CODE_BITS + 2);
  let code = 0;
  for (let bits = 1; bits <= MAX_CODE_BITS; bits++) {
    code = (code + (lengthCount[bits - 1] as number)) << 1;
    nextCode[bits] = code;
  }
  const codes = new Uint16Array(lengths.length);
  for (let symbol = 0; symbol < lengths.length; symbol++) {
    const bits = lengths[symbol] as number;
    if (bits === 0) continue;
    let value = nextCode[bits]!++;
    let reversed = 0;
    for (let i = 0; i < bits; i++) {
      reversed = (reversed << 1) | (value & 1);
      value >>= 1;
    }
    codes[symbol] = reversed;
  }
  return codes;
}

class BitWriter {
  accumulator = 0;
  bitCount = 0;
  length = 0;
  constructor(readonly out: Uint8Array) {}

  write(value: number, bits: number): void {
    this.accumulator |= value << this.bitCount;
    this.bitCount += bits;
    while (this.bitCount >= 8) {
      this.out[this.length++] = this.accumulator & 0xff;
      this.accumulator >>>= 8;
      this.bitCount -= 8;
    }
  }

  /** Pads with zero bits to a byte boundary. */
  align(): void {
    if (this.bitCount > 0) this.write(0, 8 - this.bitCount);
  }
}

/**
 * Deflates `data` (with its byte histogram `histogram`, 256 entries) as one literal-only
 * dynamic block plus a sync-flush marker. Returns the compressed bytes.
 */
export function deflateLiterals(data: Uint8Array, histogram: Uint32Array): Uint8Array {
  const frequencies = new Uint32Array(LITERALS);
  frequencies.set(histogram.subarray(0, 256));
  frequencies[END_OF_BLOCK] = 1;
  const lengths = codeLengths(frequencies, MAX_CODE_BITS);
  const codes = canonicalCodes(lengths);

  // Run-length encode the 257 literal lengths + 1 distance length (0: no distance codes).
  const allLengths = [...lengths, 0];
  const symbols: number[] = [];
  const extras: number[] = [];
  for (let i = 0; i < allLengths.length;) {
    const value = allLengths[i] as number;
    let run = 1;
    while (i + run < allLengths.length && allLengths[i + run] === value) run++;
    if (value === 0 && run >= 3) {
      const take = Math.min(run, 138);
      if (take >= 11) {
        symbols.push(18);
        extras.push(take - 11);
      } else {
        symbols.push(17);
        extras.push(take - 3);
      }
      i += take;
    } else if (value !== 0 && run >= 4) {
      symbols.push(value);
      extras.push(0);
      const take = Math.min(run - 1, 6);
      symbols.push(16);
      extras.push(take - 3);
      i += 1 + take;
    } else {
      symbols.push(value);
      extras.push(0);
      i += 1;
    }
  }
  const lengthFrequencies = new Uint32Array(19);
  for (const symbol of symbols) lengthFrequencies[symbol]!++;
  const lengthLengths = codeLengths(lengthFrequencies, MAX_CODE_LENGTH_BITS);
  const lengthCodes = canonicalCodes(lengthLengths);
  let codeLengthCount = 19;
  while (
    codeLengthCount > 4 &&
    lengthLengths[CODE_LENGTH_ORDER[codeLengthCount - 1] as number] === 0
  )
    codeLengthCount--;

  // Worst case: 15 bits per byte, plus headers.
  const writer = new BitWriter(new Uint8Array(Math.ceil((data.length * MAX_CODE_BITS) / 8) + 512));
  writer.write(0, 1); // BFINAL = 0
  writer.write(2, 2); // BTYPE = dynamic Huffman
  writer.write(LITERALS - 257, 5); // HLIT
  writer.write(0, 5); // HDIST: one distance code
  writer.write(codeLengthCount - 4, 4); // HCLEN
  for (let i = 0; i < codeLengthCount; i++)
    writer.write(lengthLengths[CODE_LENGTH_ORDER[i] as number] as number, 3);
  for (let i = 0; i < symbols.length; i++) {
    const symbol = symbols[i] as number;
    writer.write(lengthCodes[symbol] as number, lengthLengths[symbol] as number);
    if (symbol === 16) writer.write(extras[i] as number, 2);
    else if (symbol === 17) writer.write(extras[i] as number, 3);
    else if (symbol === 18) writer.write(extras[i] as number, 7);
  }

  // The hot loop: one table lookup per byte (code in the low 16 bits, length above).
  const table = new Int32Array(256);
  for (let symbol = 0; symbol < 256; symbol++) {
    table[symbol] = (codes[symbol] as number) | ((lengths[symbol] as number) << 16);
  }
  const out = writer.out;
  let position = writer.length;
  let accumulator = writer.accumulator;
  let bitCount = writer.bitCount;
  for (let i = 0; i < data.length; i++) {
    const entry = table[data[i] as number] as number;
    accumulator |= (entry & 0xffff) << bitCount;
    bitCount += entry >>> 16;
    if (bitCount >= 16) {
      out[position] = accumulator & 0xff;
      out[position + 1] = (accumulator >>> 8) & 0xff;
      position += 2;
      accumulator >>>= 16;
      bitCount -= 16;
    }
  }
  writer.length = position;
  writer.accumulator = accumulator;
  writer.bitCount = bitCount;
  writer.write(codes[END_OF_BLOCK] as number, lengths[END_OF_BLOCK] as number);
  // Sync flush: an empty stored block (BFINAL=0, BTYPE=00), aligned, LEN=0, NLEN=0xffff.
  writer.write(0, 3);
  writer.align();
  writer.write(0x0000, 16);
  writer.write(0xffff, 16);
  return out.subarray(0, writer.length);
}

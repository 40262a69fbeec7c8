/**
 * `npm run bench:validation`: which schema library validates the project's messages fastest,
 * side by side in one run (the machine is noisy: compare the ratios, not the absolute times).
 *
 * Candidates: the codec's own validators (validateMessage, validatePeerMessage: hand-written
 * kits when the library was chosen, schemas since; bench:codec-checks times them alone),
 * TypeBox with compiled checkers, zod 4 and valibot 1 as their docs suggest, and the project's
 * schema.ts. Each validates three real message shapes
 *   directory request  a signed DirectoryRequest (create_request, with its auth block)
 *   TaskRequest        the core's TaskRequest header (ids, size, nested assignment)
 *   peer CopyPart      a peer-to-peer CopyPart header (image id, hex digest, ranges)
 * BENCH_N times (default 100 000) as valid input and BENCH_N times as invalid input (one nested
 * field wrong). Invalid input includes building the first error message, because that is what a
 * receiver does with it (it names the field in its reply). "schema.ts (valibot)" is what the
 * project uses: valibot through src/protocol/schema.ts's builders (messages in words, first
 * issue only). Last, the time to import each library in a fresh process. Each cell is the best of
 * BENCH_ROUNDS (default 5) rounds, rounds interleaved between the candidates.
 */
import { execFileSync } from 'node:child_process';
import Type, { type TSchema } from 'typebox';
import Compile from 'typebox/compile';
import * as v from 'valibot';
import { z } from 'zod';
import { validateMessage } from '../src/protocol/cloud-message-checks.js';
import {
  Int,
  Literal,
  Optional,
  Pattern,
  Strict,
  checker,
  type Schema,
} from '../src/protocol/schema.js';
import { validatePeerMessage } from '../src/protocol/peer-protocol.js';
import { copyPart, taskRequest } from './sample-messages.js';

const N = Number(process.env.BENCH_N ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

const UUID = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
const IMAGE_ID = '^[a-z0-9][a-z0-9_-]{0,63}$';
const HEX64 = '^[0-9a-f]{64}$';
const HEX128 = '^[0-9a-f]{128}$';
const TASK_ID = '^[A-Za-z0-9._:@-]{1,64}$';
const re = (source: string): RegExp => new RegExp(source);

// ---- The inputs ---------------------------------------------------------------------------

const directoryRequest = {
  type: 'DirectoryRequest',
  op: 'create_request',
  args: {
    owner_id: '0b8e1c1e-7f5a-4c3e-9d2a-1b2c3d4e5f60',
    image_id: 'holiday-2024',
    views: 3,
    request_id: '5f2a1c1e-7f5a-4c3e-9d2a-1b2c3d4e5f61',
  },
  auth: {
    user_id: '7a1e1c1e-7f5a-4c3e-9d2a-1b2c3d4e5f62',
    timestamp_ms: 1_760_000_000_000,
    nonce: 'ab'.repeat(32),
    signature: 'cd'.repeat(64),
  },
};
const invalid = {
  directoryRequest: { ...directoryRequest, auth: { ...directoryRequest.auth, nonce: 'XYZ' } },
  taskRequest: { ...taskRequest, assignment: { ...taskRequest.assignment, epoch: -1 } },
  copyPart: { ...copyPart, sha256: 'not hex' },
};

// ---- TypeBox ------------------------------------------------------------------------------

const tbAuth = Type.Object(
  {
    user_id: Type.String({ pattern: UUID }),
    timestamp_ms: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
    nonce: Type.String({ pattern: HEX64 }),
    signature: Type.String({ pattern: HEX128 }),
  },
  { additionalProperties: false },
);
const tbDirectory = Type.Object(
  {
    type: Type.Literal('DirectoryRequest'),
    op: Type.Literal('create_request'),
    args: Type.Object(
      {
        owner_id: Type.String({ pattern: UUID }),
        image_id: Type.String({ pattern: IMAGE_ID }),
        views: Type.Integer({ minimum: 1, maximum: 10_000 }),
        request_id: Type.Optional(Type.String({ pattern: UUID })),
      },
      { additionalProperties: false },
    ),
    auth: tbAuth,
  },
  { additionalProperties: false },
);
const tbTask = Type.Object(
  {
    type: Type.Literal('TaskRequest'),
    client_id: Type.String({ pattern: TASK_ID }),
    task_id: Type.String({ pattern: TASK_ID }),
    size_bytes: Type.Integer({ minimum: 0, maximum: 1024 ** 3 }),
    assignment: Type.Object(
      {
        server_id: Type.Integer({ minimum: 1, maximum: 999 }),
        epoch: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
        attempt: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
const tbCopyPart = Type.Object(
  {
    type: Type.Literal('CopyPart'),
    image_id: Type.String({ pattern: IMAGE_ID }),
    version: Type.Integer({ minimum: 1, maximum: 0xffff_ffff }),
    total_bytes: Type.Integer({ minimum: 1, maximum: 64 * 1024 * 1024 }),
    sha256: Type.String({ pattern: HEX64 }),
    offset: Type.Integer({ minimum: 0, maximum: 64 * 1024 * 1024 }),
    size_bytes: Type.Integer({ minimum: 0, maximum: 4 * 1024 * 1024 }),
  },
  { additionalProperties: false },
);

/** TypeBox's compiled check; a refusal is explained by TypeBox's own error list. */
function typebox(schema: TSchema): (value: unknown) => string | null {
  const compiled = Compile(schema);
  if (!compiled.IsAccelerated()) throw new Error('TypeBox did not compile (no eval?)');
  return (value) => {
    if (compiled.Check(value)) return null;
    const first = compiled.Errors(value)[0];
    return `${first?.instancePath}: ${first?.message}`;
  };
}

// ---- zod ----------------------------------------------------------------------------------

const zInt = (min: number, max: number) => z.number().int().min(min).max(max);
const zDirectory = z.strictObject({
  type: z.literal('DirectoryRequest'),
  op: z.literal('create_request'),
  args: z.strictObject({
    owner_id: z.string().regex(re(UUID)),
    image_id: z.string().regex(re(IMAGE_ID)),
    views: zInt(1, 10_000),
    request_id: z.string().regex(re(UUID)).optional(),
  }),
  auth: z.strictObject({
    user_id: z.string().regex(re(UUID)),
    timestamp_ms: zInt(0, Number.MAX_SAFE_INTEGER),
    nonce: z.string().regex(re(HEX64)),
    signature: z.string().regex(re(HEX128)),
  }),
});
const zTask = z.strictObject({
  type: z.literal('TaskRequest'),
  client_id: z.string().regex(re(TASK_ID)),
  task_id: z.string().regex(re(TASK_ID)),
  size_bytes: zInt(0, 1024 ** 3),
  assignment: z.strictObject({
    server_id: zInt(1, 999),
    epoch: zInt(1, Number.MAX_SAFE_INTEGER),
    attempt: zInt(1, Number.MAX_SAFE_INTEGER),
  }),
});
const zCopyPart = z.strictObject({
  type: z.literal('CopyPart'),
  image_id: z.string().regex(re(IMAGE_ID)),
  version: zInt(1, 0xffff_ffff),
  total_bytes: zInt(1, 64 * 1024 * 1024),
  sha256: z.string().regex(re(HEX64)),
  offset: zInt(0, 64 * 1024 * 1024),
  size_bytes: zInt(0, 4 * 1024 * 1024),
});

function zod(schema: z.ZodType): (value: unknown) => string | null {
  return (value) => {
    const result = schema.safeParse(value);
    if (result.success) return null;
    const first = result.error.issues[0];
    return `${first?.path.join('.')}: ${first?.message}`;
  };
}

// ---- valibot ------------------------------------------------------------------------------

const vInt = (min: number, max: number) =>
  v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));
const vStr = (source: string) => v.pipe(v.string(), v.regex(re(source)));
const vDirectory = v.strictObject({
  type: v.literal('DirectoryRequest'),
  op: v.literal('create_request'),
  args: v.strictObject({
    owner_id: vStr(UUID),
    image_id: vStr(IMAGE_ID),
    views: vInt(1, 10_000),
    request_id: v.optional(vStr(UUID)),
  }),
  auth: v.strictObject({
    user_id: vStr(UUID),
    timestamp_ms: vInt(0, Number.MAX_SAFE_INTEGER),
    nonce: vStr(HEX64),
    signature: vStr(HEX128),
  }),
});
const vTask = v.strictObject({
  type: v.literal('TaskRequest'),
  client_id: vStr(TASK_ID),
  task_id: vStr(TASK_ID),
  size_bytes: vInt(0, 1024 ** 3),
  assignment: v.strictObject({
    server_id: vInt(1, 999),
    epoch: vInt(1, Number.MAX_SAFE_INTEGER),
    attempt: vInt(1, Number.MAX_SAFE_INTEGER),
  }),
});
const vCopyPart = v.strictObject({
  type: v.literal('CopyPart'),
  image_id: vStr(IMAGE_ID),
  version: vInt(1, 0xffff_ffff),
  total_bytes: vInt(1, 64 * 1024 * 1024),
  sha256: vStr(HEX64),
  offset: vInt(0, 64 * 1024 * 1024),
  size_bytes: vInt(0, 4 * 1024 * 1024),
});

function valibot(schema: v.GenericSchema): (value: unknown) => string | null {
  return (value) => {
    const result = v.safeParse(schema, value);
    if (result.success) return null;
    const first = result.issues[0];
    return `${v.getDotPath(first) ?? ''}: ${first.message}`;
  };
}

// ---- The project's schemas (src/protocol/schema.ts: valibot with messages in words) -----------

const pUuid = Pattern(re(UUID), 'a lowercase UUID');
const pHex64 = Pattern(re(HEX64), '64 lowercase hex characters');
const pDirectory = Strict({
  type: Literal('DirectoryRequest'),
  op: Literal('create_request'),
  args: Strict({
    owner_id: pUuid,
    image_id: Pattern(re(IMAGE_ID), 'an image id'),
    views: Int(1, 10_000),
    request_id: Optional(pUuid),
  }),
  auth: Strict({
    user_id: pUuid,
    timestamp_ms: Int(0, Number.MAX_SAFE_INTEGER),
    nonce: pHex64,
    signature: Pattern(re(HEX128), '128 lowercase hex characters'),
  }),
});
const pTask = Strict({
  type: Literal('TaskRequest'),
  client_id: Pattern(re(TASK_ID), 'a client id'),
  task_id: Pattern(re(TASK_ID), 'a task id'),
  size_bytes: Int(0, 1024 ** 3),
  assignment: Strict({
    server_id: Int(1, 999),
    epoch: Int(1, Number.MAX_SAFE_INTEGER),
    attempt: Int(1, Number.MAX_SAFE_INTEGER),
  }),
});
const pCopyPart = Strict({
  type: Literal('CopyPart'),
  image_id: Pattern(re(IMAGE_ID), 'an image id'),
  version: Int(1, 0xffff_ffff),
  total_bytes: Int(1, 64 * 1024 * 1024),
  sha256: pHex64,
  offset: Int(0, 64 * 1024 * 1024),
  size_bytes: Int(0, 4 * 1024 * 1024),
});

function project(schema: Schema): (value: unknown) => string | null {
  const compiled = checker(schema);
  return (value) => compiled.problem(value);
}

// ---- The codec's validators (whole messages: type dispatch included) ----------------------

function codecValidator(
  check: (value: unknown) => { ok: true } | { ok: false; error: string },
): (value: unknown) => string | null {
  return (value) => {
    const result = check(value);
    return result.ok ? null : result.error;
  };
}

// ---- The run ------------------------------------------------------------------------------

type Check = (value: unknown) => string | null;
interface Shape {
  name: string;
  valid: unknown;
  invalid: unknown;
  candidates: Record<string, Check>;
}

const SHAPES: Shape[] = [
  {
    name: 'directory request',
    valid: directoryRequest,
    invalid: invalid.directoryRequest,
    candidates: {
      // The hand-written directory checker is gone (the op table's schemas replaced it).
      'TypeBox (compiled)': typebox(tbDirectory),
      'zod 4': zod(zDirectory),
      'valibot 1': valibot(vDirectory),
      'schema.ts (valibot)': project(pDirectory),
    },
  },
  {
    name: 'TaskRequest',
    valid: taskRequest,
    invalid: invalid.taskRequest,
    candidates: {
      validateMessage: codecValidator(validateMessage),
      'TypeBox (compiled)': typebox(tbTask),
      'zod 4': zod(zTask),
      'valibot 1': valibot(vTask),
      'schema.ts (valibot)': project(pTask),
    },
  },
  {
    name: 'peer CopyPart',
    valid: copyPart,
    invalid: invalid.copyPart,
    candidates: {
      validatePeerMessage: codecValidator(validatePeerMessage),
      'TypeBox (compiled)': typebox(tbCopyPart),
      'zod 4': zod(zCopyPart),
      'valibot 1': valibot(vCopyPart),
      'schema.ts (valibot)': project(pCopyPart),
    },
  },
];

/** Milliseconds for N checks of `value`; throws when the verdict is not the expected one. */
function time(check: Check, value: unknown, expectValid: boolean): number {
  const first = check(value);
  if ((first === null) !== expectValid)
    throw new Error(`wrong verdict: expected ${expectValid ? 'valid' : 'invalid'}, got ${first}`);
  let sink = 0;
  const started = performance.now();
  for (let i = 0; i < N; i++) sink += check(value) === null ? 1 : 0;
  const elapsed = performance.now() - started;
  if (sink !== (expectValid ? N : 0)) throw new Error('verdict changed during the run');
  return elapsed;
}

console.log(
  `validation bench: ${N} checks per cell, best of ${ROUNDS} rounds, node ${process.version}\n`,
);
for (const shape of SHAPES) {
  const names = Object.keys(shape.candidates);
  const best = new Map(names.map((n) => [n, { valid: Infinity, invalid: Infinity }]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of names) {
      const check = shape.candidates[name] as Check;
      const cell = best.get(name) as { valid: number; invalid: number };
      cell.valid = Math.min(cell.valid, time(check, shape.valid, true));
      cell.invalid = Math.min(cell.invalid, time(check, shape.invalid, false));
    }
  }
  const base = best.get('schema.ts (valibot)') as { valid: number; invalid: number };
  console.log(`${shape.name}`);
  console.log(
    `  ${'candidate'.padEnd(20)} ${'valid ms'.padStart(9)} ${'ratio'.padStart(6)} ${'invalid ms'.padStart(11)} ${'ratio'.padStart(6)}  first error`,
  );
  for (const name of names) {
    const cell = best.get(name) as { valid: number; invalid: number };
    const message = (shape.candidates[name] as Check)(shape.invalid) ?? '';
    console.log(
      `  ${name.padEnd(20)} ${cell.valid.toFixed(1).padStart(9)} ${(cell.valid / base.valid).toFixed(1).padStart(6)} ${cell.invalid.toFixed(1).padStart(11)} ${(cell.invalid / base.invalid).toFixed(1).padStart(6)}  ${message.slice(0, 70)}`,
    );
  }
  console.log();
}
console.log('ratio: time / schema.ts (valibot) time in the same run (lower is faster)\n');

// ---- Load time: every process (server, CLI command, agent, worker) pays it once -------------

const MODULES = ['typebox', 'typebox/compile', 'zod', 'valibot'];
const loads = new Map(MODULES.map((m) => [m, Infinity]));
for (let round = 0; round < ROUNDS; round++) {
  for (const name of MODULES) {
    const script = `const t = performance.now(); await import(${JSON.stringify(name)}); console.log(performance.now() - t);`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    loads.set(name, Math.min(loads.get(name) as number, Number(out)));
  }
}
console.log(`import time in a fresh process (best of ${ROUNDS}):`);
for (const [name, ms] of loads) console.log(`  ${name.padEnd(20)} ${ms.toFixed(0).padStart(6)} ms`);

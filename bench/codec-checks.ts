/**
 * `npm run bench:codec-checks`: what the codec's validators cost per message on the hot path.
 * Every frame a server, client or agent receives is checked once by `validateMessage` (cloud
 * core messages) or `validatePeerMessage` (peer messages) before anything reads it, so their
 * cost is paid on every heartbeat, task and copy chunk (issue 10 chases TLS throughput).
 *
 * Messages, shaped as the running system sends them:
 *   Heartbeat    a leader's heartbeat in a five-server cloud (four members with their loads)
 *   TaskRequest  a client's task header (ids, size, nested assignment)
 *   HistoryAdd   the leader's replicated history entry
 *   CopyPart     a peer copy chunk header (image id, SHA-256 hex, ranges)
 * each BENCH_N times (default 100 000) valid, and BENCH_N times with one nested field wrong
 * (the time includes the error text, which the receiver sends back). Best of BENCH_ROUNDS
 * (default 5) rounds. To compare two versions of the validators, run this file in both trees
 * back to back (docs/RESULTS.md says how it was done).
 */
import { validateMessage } from '../src/protocol/cloud-message-checks.js';
import { validatePeerMessage } from '../src/protocol/peer-protocol.js';
import { copyPart, taskRequest } from './sample-messages.js';

const N = Number(process.env.BENCH_N ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

const load = (score: number) => ({
  score,
  cpu_pct: 37.5,
  memory_used_pct: 61.2,
  load_average: 1.27,
  active_tasks: 3,
  queue_length: 12,
  capacity: 104,
});
const history = { seq: 48_211, digest: 3_141_592_653, size: 1_873 };

const heartbeat = {
  type: 'Heartbeat',
  from: 2,
  epoch: 4002,
  leader_id: 2,
  role: 'leader',
  load: load(41.5),
  synced: true,
  history,
  successors: [1, 5, 3, 4],
  members: [1, 3, 4, 5].map((id) => ({
    id,
    state: 'alive',
    synced: true,
    age_ms: 180 + id,
    load: load(40 + id),
  })),
};
const historyAdd = {
  type: 'HistoryAdd',
  from: 2,
  epoch: 4002,
  seq: 48_212,
  entry: {
    client_id: taskRequest.client_id,
    task_id: taskRequest.task_id,
    assignment: taskRequest.assignment,
  },
};

type Check = (value: unknown) => { ok: true } | { ok: false; error: string };
interface Case {
  name: string;
  check: Check;
  valid: unknown;
  invalid: unknown;
}

const CASES: Case[] = [
  {
    name: 'Heartbeat',
    check: validateMessage,
    valid: heartbeat,
    invalid: {
      ...heartbeat,
      members: [...heartbeat.members.slice(0, 3), { ...heartbeat.members[3], age_ms: -1 }],
    },
  },
  {
    name: 'TaskRequest',
    check: validateMessage,
    valid: taskRequest,
    invalid: { ...taskRequest, assignment: { ...taskRequest.assignment, epoch: -1 } },
  },
  {
    name: 'HistoryAdd',
    check: validateMessage,
    valid: historyAdd,
    invalid: { ...historyAdd, entry: { ...historyAdd.entry, task_id: 'a/b' } },
  },
  {
    name: 'CopyPart',
    check: validatePeerMessage,
    valid: copyPart,
    invalid: { ...copyPart, sha256: 'not hex' },
  },
];

/** Milliseconds for N checks of `value`; throws when the verdict is not the expected one. */
function time(check: Check, value: unknown, expectValid: boolean): number {
  const first = check(value);
  if (first.ok !== expectValid)
    throw new Error(`wrong verdict: expected ${expectValid ? 'valid' : 'invalid'}`);
  let sink = 0;
  const started = performance.now();
  for (let i = 0; i < N; i++) sink += check(value).ok ? 1 : 0;
  const elapsed = performance.now() - started;
  if (sink !== (expectValid ? N : 0)) throw new Error('verdict changed during the run');
  return elapsed;
}

const best = new Map(CASES.map((c) => [c.name, { valid: Infinity, invalid: Infinity }]));
for (let round = 0; round < ROUNDS; round++) {
  for (const c of CASES) {
    const cell = best.get(c.name) as { valid: number; invalid: number };
    cell.valid = Math.min(cell.valid, time(c.check, c.valid, true));
    cell.invalid = Math.min(cell.invalid, time(c.check, c.invalid, false));
  }
}

const us = (ms: number): string => ((ms * 1000) / N).toFixed(2).padStart(8);
console.log(`codec checks: ${N} per cell, best of ${ROUNDS} rounds, node ${process.version}`);
console.log(
  `  ${'message'.padEnd(12)} ${'valid µs'.padStart(8)} ${'invalid µs'.padStart(10)}  error`,
);
for (const c of CASES) {
  const cell = best.get(c.name) as { valid: number; invalid: number };
  const result = c.check(c.invalid);
  const error = result.ok ? '' : result.error;
  console.log(
    `  ${c.name.padEnd(12)} ${us(cell.valid)} ${us(cell.invalid).padStart(10)}  ${error.slice(0, 80)}`,
  );
}

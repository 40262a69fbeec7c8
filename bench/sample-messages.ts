/**
 * Message headers as the running system sends them, shared by the validation benches
 * (bench/validation.ts compares libraries on them, bench/codec-checks.ts times the codec's
 * validators), so both measure the same shapes.
 */

/** A client's task header: ids, size and the nested assignment the leader gave it. */
export const taskRequest = {
  type: 'TaskRequest',
  client_id: 'client-7',
  task_id: 'c7:task:000123',
  size_bytes: 182_311,
  assignment: { server_id: 2, epoch: 4002, attempt: 1 },
};

/** A peer copy chunk header: image id, SHA-256 hex and byte ranges. */
export const copyPart = {
  type: 'CopyPart',
  image_id: 'holiday-2024',
  version: 3,
  total_bytes: 900_000,
  sha256: 'ef'.repeat(32),
  offset: 0,
  size_bytes: 65_536,
};

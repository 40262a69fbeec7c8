/**
 * Another server's /status, as the dashboard reads it: the schema of the part the dashboard
 * shows (role, leader, epoch, silence, task counts, load), checked once where it arrives from
 * the network. Other fields of the document are ignored (a newer server may add some).
 */
import type { LoadFigures, OwnReport } from '../protocol/dashboard-protocol.js';
import { AnyText, Nullable, OneOf, checker, v } from '../protocol/schema.js';

/** A finite number (counts and percentages a peer reports; the page only displays them). */
const Figure = v.pipe(v.number(), v.finite());

const PeerStatus = v.object({
  id: v.number(),
  role: OneOf(['follower', 'candidate', 'leader', 'silent', 'left']),
  leader_id: Nullable(Figure),
  epoch_label: AnyText(40),
  silent_for_ms: Nullable(Figure),
  uptime_ms: Figure,
  counters: v.object({ tasks_executed: Figure, tasks_assigned: Figure }),
  load: v.object({
    score: Figure,
    cpu_pct: Figure,
    memory_used_pct: Figure,
    active_tasks: Figure,
    queue_length: Figure,
    capacity: Figure,
  }),
});
const peerStatus = checker(PeerStatus);
const HasId = v.object({ id: v.number() });

/**
 * Checks another server's /status document and keeps what the dashboard shows; returns a
 * phrase saying what is wrong otherwise (it comes from the network: never trust its shape).
 */
export function parsePeerStatus(
  value: unknown,
  expectedId: number,
): { own: OwnReport; load: LoadFigures } | string {
  if (typeof value !== 'object' || value === null) return 'sent something that is not a status';
  if (!v.is(HasId, value)) return 'sent a status without an id';
  if (value.id !== expectedId)
    return `answers as server ${value.id} (check http_address in [peers])`;
  if (!peerStatus.is(value)) return 'sent a status in an unknown format (a different version?)';
  return { own: ownReport(value), load: loadFigures(value.load) };
}

/** The status fields the dashboard shows, from this server's status or another's. */
interface StatusFields {
  role: OwnReport['role'];
  leader_id: number | null;
  epoch_label: string;
  silent_for_ms: number | null;
  uptime_ms: number;
  counters: { tasks_executed: number; tasks_assigned: number };
}

export function ownReport(status: StatusFields): OwnReport {
  return {
    role: status.role,
    leader_id: status.leader_id,
    epoch_label: status.epoch_label,
    silent_for_ms: status.silent_for_ms,
    tasks_executed: status.counters.tasks_executed,
    tasks_assigned: status.counters.tasks_assigned,
    uptime_ms: status.uptime_ms,
  };
}

/** Only the load figures the page shows (a LoadReport carries more). */
export function loadFigures(load: LoadFigures): LoadFigures {
  return {
    score: load.score,
    cpu_pct: load.cpu_pct,
    memory_used_pct: load.memory_used_pct,
    active_tasks: load.active_tasks,
    queue_length: load.queue_length,
    capacity: load.capacity,
  };
}

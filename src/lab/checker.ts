/**
 * Checks a lab campaign from its record alone: every operation (ops.jsonl), every event the
 * agents emitted (agent-events.jsonl), and what each agent and the directory hold at the end
 * (snapshots, taken after every host is back and every agent has synced). Pure, so each rule is
 * tested on small hand-made records. The rules:
 *
 * - requests: each request that was acknowledged exists exactly once, on both sides, with the
 *   status of its answer; none exists that no operation created (an operation whose outcome is
 *   unknown — no answer — may account for one);
 * - grants: replaying each owner's changes in order (grants.ts) must give every state the
 *   directory reported along the way and the state it holds at the end (no change lost, none
 *   applied twice: versions grow by exactly one per change);
 * - viewers: each viewer's ledger ends with the directory's grant (no pending update lost), has
 *   counted exactly the views shown, and applied each grant version once;
 * - views: no view was shown beyond the rights the viewer's agent held when it started, nor
 *   beyond the largest quota ever granted, and every image shown is the owner's image, byte for
 *   byte;
 * - encryption: every image the cloud hid was viewed back by its owner, byte for byte;
 * - offline: every change made while its recipient was signed out reached them after sign-in
 *   (the delays are reported), and every grant ends delivered (copy and rights).
 */
import { applyGrantChange, grantKey, type GrantChange, type GrantModel } from './grants.js';
import { outcomeUnknown, type AgentEventRecord, type OpRecord } from './ops.js';

export interface SnapshotRequest {
  request_id: string;
  owner: string;
  requester: string;
  image_id: string;
  views: number;
  kind: string;
  status: string;
}

export interface SnapshotGrant {
  image_id: string;
  viewer: string;
  quota: number;
  version: number;
  revoked: boolean;
  delivery: string;
}

export interface SnapshotReceived {
  owner: string;
  image_id: string;
  quota: number;
  consumed: number;
  revoked: boolean;
  version: number;
  state: string;
}

export interface AgentSnapshot {
  username: string;
  inbox: SnapshotRequest[];
  outbox: SnapshotRequest[];
  grants: SnapshotGrant[];
  received: SnapshotReceived[];
}

export interface CheckInput {
  records: readonly OpRecord[];
  events: readonly AgentEventRecord[];
  snapshots: readonly AgentSnapshot[];
  /** SHA-256 of each image file the workload encrypts, by name. */
  imageSha256: Readonly<Record<string, string>>;
  /** Times a user host was down (its agents signed out with it). */
  hostDown?: readonly { host: string; from_ms: number; to_ms: number | null }[];
}

export interface Check {
  name: string;
  pass: boolean;
  detail: string;
  /** Up to 20 examples of what broke the rule. */
  examples: string[];
}

export interface OfflineApplication {
  kind: 'grant_change' | 'request';
  /** Who had to apply it, and what. */
  recipient: string;
  subject: string;
  changed_at_ms: number;
  /** When the recipient's agent applied it (null: never). */
  applied_at_ms: number | null;
  /** Change to application. */
  delay_ms: number | null;
  /** The recipient's sign-in (start) to application. */
  after_sign_in_ms: number | null;
}

export interface CheckReport {
  checks: Check[];
  offline: OfflineApplication[];
  counts: {
    ops: number;
    ok: number;
    failed: number;
    unknown_outcome: number;
    views_shown: number;
    views_default: number;
    encryptions_verified: number;
    requests_created: number;
    grant_changes: number;
  };
}

const MAX_EXAMPLES = 20;

/** View refusals decided offline (src/peer/offline-allowance.ts): the directory was not heard. */
const OFFLINE_REFUSALS: ReadonlySet<string> = new Set(['not_synced', 'offline_used']);

class Rule {
  readonly examples: string[] = [];
  count = 0;
  constructor(readonly name: string) {}
  fail(example: string): void {
    this.count++;
    if (this.examples.length < MAX_EXAMPLES) this.examples.push(example);
  }
  result(passDetail: string, failDetail = `${this.count} violations`): Check {
    return {
      name: this.name,
      pass: this.count === 0,
      detail: this.count === 0 ? passDetail : failDetail,
      examples: this.examples,
    };
  }
}

function endOf(r: OpRecord): number {
  return r.start_ms + r.latency_ms;
}

export function checkCampaign(input: CheckInput): CheckReport {
  const records = [...input.records].sort((a, b) => a.start_ms - b.start_ms || a.seq - b.seq);
  const bySnapshot = new Map(input.snapshots.map((s) => [s.username, s]));
  const checks: Check[] = [];

  // ---- Encryption --------------------------------------------------------------------------
  const encrypt = new Rule('every encryption result verified');
  const imageName = new Map<string, string>(); // image id → file name
  let verified = 0;
  for (const r of records) {
    if (r.op.kind !== 'encrypt' || r.result?.kind !== 'encrypt') continue;
    imageName.set(r.result.image_id, r.op.image);
    if (r.result.verified) verified++;
    else encrypt.fail(`#${r.seq} ${r.op.agent} ${r.op.image}: ${r.result.verify_detail}`);
  }
  checks.push(
    encrypt.result(`${verified} images hidden by the cloud, each viewed back byte for byte`),
  );

  // ---- Requests ----------------------------------------------------------------------------
  const requests = new Rule('no request lost or applied twice');
  const created = new Map<string, OpRecord>();
  const ambiguousRequests: OpRecord[] = [];
  for (const r of records) {
    if (r.op.kind !== 'request' && r.op.kind !== 'more_views') continue;
    if ((r.result?.kind === 'request' || r.result?.kind === 'more_views') && r.ok) {
      if (created.has(r.result.request_id))
        requests.fail(
          `request ${r.result.request_id} returned by two operations (#${created.get(r.result.request_id)?.seq}, #${r.seq})`,
        );
      created.set(r.result.request_id, r);
    } else if (outcomeUnknown(r)) ambiguousRequests.push(r);
  }
  const answers = new Map<string, { decided: string | null; maybe: Set<string> }>();
  for (const r of records) {
    if (r.op.kind !== 'accept' && r.op.kind !== 'reject') continue;
    const entry = answers.get(r.op.request_id) ?? { decided: null, maybe: new Set<string>() };
    const status = r.op.kind === 'accept' ? 'accepted' : 'rejected';
    if (r.ok) entry.decided = status;
    else if (outcomeUnknown(r)) entry.maybe.add(status);
    answers.set(r.op.request_id, entry);
  }
  const seen = new Map<string, number>();
  for (const snapshot of input.snapshots)
    for (const request of snapshot.inbox)
      seen.set(request.request_id, (seen.get(request.request_id) ?? 0) + 1);
  for (const [id, r] of created) {
    const op = r.op as Extract<OpRecord['op'], { kind: 'request' | 'more_views' }>;
    const inbox = bySnapshot.get(op.owner)?.inbox.filter((q) => q.request_id === id) ?? [];
    const outbox = bySnapshot.get(op.agent)?.outbox.filter((q) => q.request_id === id) ?? [];
    if (!bySnapshot.has(op.owner) || !bySnapshot.has(op.agent)) continue; // no snapshot: reported below
    if (inbox.length !== 1 || outbox.length !== 1) {
      requests.fail(
        `request ${id} (#${r.seq} ${op.agent} → ${op.owner}): ${inbox.length} times in the owner's inbox, ${outbox.length} in the requester's`,
      );
      continue;
    }
    const held = inbox[0] as SnapshotRequest;
    if (held.requester !== op.agent || held.image_id !== op.image_id || held.views !== op.views)
      requests.fail(
        `request ${id}: the directory holds ${held.requester}/${held.image_id}/${held.views} views, #${r.seq} asked ${op.agent}/${op.image_id}/${op.views}`,
      );
    const answer = answers.get(id);
    const allowed = new Set<string>(
      answer?.decided ? [answer.decided] : ['pending', ...(answer?.maybe ?? [])],
    );
    if (!allowed.has(held.status))
      requests.fail(
        `request ${id}: ${held.status} in the directory, expected ${[...allowed].join(' or ')}`,
      );
  }
  // Requests nobody acknowledged creating: each needs its own operation with an unknown outcome.
  const unexplained = new Map<string, number>();
  for (const snapshot of input.snapshots)
    for (const request of snapshot.inbox) {
      if (created.has(request.request_id)) continue;
      const key = `${request.requester}/${request.owner}/${request.image_id}/${request.views}`;
      unexplained.set(key, (unexplained.get(key) ?? 0) + 1);
    }
  for (const [key, count] of unexplained) {
    const candidates = ambiguousRequests.filter((r) => {
      const op = r.op as Extract<OpRecord['op'], { kind: 'request' | 'more_views' }>;
      return `${op.agent}/${op.owner}/${op.image_id}/${op.views}` === key;
    }).length;
    if (count > candidates)
      requests.fail(
        `${count - candidates} request(s) ${key} in the directory that no operation accounts for`,
      );
  }
  for (const [id, n] of seen) if (n > 1) requests.fail(`request ${id} listed ${n} times`);
  checks.push(
    requests.result(
      `${created.size} requests acknowledged, each exactly once in the directory with the status of its answer; ${ambiguousRequests.length} without an answer accounted for`,
    ),
  );

  // ---- Grants: replay each owner's changes -------------------------------------------------
  const grants = new Rule('no grant or quota change lost or applied twice');
  const requestOf = new Map<
    string,
    { requester: string; owner: string; image_id: string; views: number }
  >();
  for (const [id, r] of created) {
    const op = r.op as Extract<OpRecord['op'], { kind: 'request' | 'more_views' }>;
    requestOf.set(id, {
      requester: op.agent,
      owner: op.owner,
      image_id: op.image_id,
      views: op.views,
    });
  }
  const possible = new Map<string, (GrantModel | undefined)[]>(); // key → states it may be in
  let grantChanges = 0;
  const states = (key: string): (GrantModel | undefined)[] => possible.get(key) ?? [undefined];
  for (const r of records) {
    let key: string | null = null;
    let change: GrantChange | null = null;
    let reported: GrantModel | null = null;
    if (r.op.kind === 'accept') {
      const request = requestOf.get(r.op.request_id);
      if (!request) continue;
      key = grantKey(request.owner, request.image_id, request.requester);
      change = { kind: 'accept', views: request.views };
      if (r.result?.kind === 'accept' && r.result.grant) reported = r.result.grant;
      if (r.ok && r.result?.kind === 'accept' && r.result.status !== 'accepted') continue;
    } else if (r.op.kind === 'set_quota' || r.op.kind === 'revoke') {
      key = grantKey(r.op.agent, r.op.image_id, r.op.viewer);
      change =
        r.op.kind === 'set_quota' ? { kind: 'set_quota', quota: r.op.quota } : { kind: 'revoke' };
      if (r.result?.kind === r.op.kind) reported = r.result;
    } else continue;
    const before = states(key);
    const after = dedupe(before.map((g) => applyGrantChange(g, change)));
    if (r.ok) {
      grantChanges++;
      if (reported) {
        const match = after.find(
          (g) =>
            g &&
            g.quota === reported.quota &&
            g.revoked === reported.revoked &&
            g.version === reported.version,
        );
        if (!match)
          grants.fail(
            `#${r.seq} ${r.op.kind} on ${key}: the directory answered quota ${reported.quota}, version ${reported.version}${reported.revoked ? ', revoked' : ''}; expected ${describeStates(after)}`,
          );
        possible.set(key, [
          { quota: reported.quota, revoked: reported.revoked, version: reported.version },
        ]);
      } else possible.set(key, after);
    } else if (outcomeUnknown(r)) possible.set(key, dedupe([...before, ...after]).slice(0, 64));
  }
  const finalGrants = new Map<string, SnapshotGrant>();
  for (const snapshot of input.snapshots)
    for (const g of snapshot.grants)
      finalGrants.set(grantKey(snapshot.username, g.image_id, g.viewer), g);
  for (const [key, options] of possible) {
    const owner = key.split('/')[0] as string;
    if (!bySnapshot.has(owner)) continue;
    const held = finalGrants.get(key);
    const ok = held
      ? options.some(
          (g) =>
            g !== undefined &&
            g.quota === held.quota &&
            g.revoked === held.revoked &&
            g.version === held.version,
        )
      : options.includes(undefined);
    if (!ok)
      grants.fail(
        `${key}: the directory ends with ${held ? `quota ${held.quota}, version ${held.version}${held.revoked ? ', revoked' : ''}` : 'no grant'}; the changes made give ${describeStates(options)}`,
      );
  }
  for (const key of finalGrants.keys())
    if (!possible.has(key)) grants.fail(`${key}: a grant in the directory that no operation made`);
  checks.push(
    grants.result(
      `${grantChanges} grant changes replayed; ${finalGrants.size} grants end exactly as the changes say`,
    ),
  );

  // ---- Viewers: ledgers end with the directory; versions applied once -----------------------
  const ledgers = new Rule('every pending update reached its viewer, applied once');
  for (const [key, g] of finalGrants) {
    const [owner, imageId, viewer] = key.split('/') as [string, string, string];
    const snapshot = bySnapshot.get(viewer);
    if (!snapshot) continue;
    const held = snapshot.received.find((x) => x.owner === owner && x.image_id === imageId);
    if (!held)
      ledgers.fail(
        `${viewer} holds nothing of ${owner}/${imageId} (directory: version ${g.version})`,
      );
    else if (held.version !== g.version || held.quota !== g.quota || held.revoked !== g.revoked)
      ledgers.fail(
        `${viewer} holds ${owner}/${imageId} at version ${held.version} quota ${held.quota}${held.revoked ? ' revoked' : ''}; the directory: version ${g.version} quota ${g.quota}${g.revoked ? ' revoked' : ''}`,
      );
  }
  const applied = new Map<string, number>();
  for (const e of input.events) {
    if (e.event.type !== 'rights-changed') continue;
    const k = `${e.agent}:${String(e.event.owner)}/${String(e.event.image_id)}@${String(e.event.version)}`;
    applied.set(k, (applied.get(k) ?? 0) + 1);
  }
  for (const [k, n] of applied) if (n > 1) ledgers.fail(`${k} applied ${n} times`);
  checks.push(
    ledgers.result(
      `${finalGrants.size} viewers' ledgers equal the directory's grants; ${applied.size} rights versions each applied once`,
    ),
  );

  // ---- Views ---------------------------------------------------------------------------------
  const views = new Rule('no viewer shown more views than granted');
  const images = new Rule("every image shown is the owner's image, byte for byte");
  const counted = new Rule('every view shown counted once in the ledger');
  const maxQuota = new Map<string, { at_ms: number; quota: number }[]>();
  for (const r of records) {
    let key: string | null = null;
    let quota: number | null = null;
    if (r.op.kind === 'accept') {
      const request = requestOf.get(r.op.request_id);
      if (!request) continue;
      key = grantKey(request.owner, request.image_id, request.requester);
      quota = r.result?.kind === 'accept' && r.result.grant ? r.result.grant.quota : null;
      // Unknown outcome: the most it could have granted.
      if (quota === null && outcomeUnknown(r)) quota = Infinity;
    } else if (r.op.kind === 'set_quota') {
      key = grantKey(r.op.agent, r.op.image_id, r.op.viewer);
      quota = r.ok || outcomeUnknown(r) ? r.op.quota : null;
    }
    if (key && quota !== null) {
      const list = maxQuota.get(key) ?? [];
      list.push({ at_ms: r.start_ms, quota });
      maxQuota.set(key, list);
    }
  }
  const rightsAt = new Map<string, AgentEventRecord[]>();
  for (const e of input.events) {
    if (e.event.type !== 'rights-changed') continue;
    const k = grantKey(String(e.event.owner), String(e.event.image_id), e.agent);
    const list = rightsAt.get(k) ?? [];
    list.push(e);
    rightsAt.set(k, list);
  }
  const shownSoFar = new Map<string, number>();
  const unknownViews = new Map<string, number>();
  let shown = 0;
  let defaults = 0;
  for (const r of records) {
    if (r.op.kind !== 'view') continue;
    const key = grantKey(r.op.owner, r.op.image_id, r.op.agent);
    if (!r.ok) {
      // A view is used at the directory first, then shown (docs/SHARING.md): a view that ended
      // in an error after the directory counted it (a lost reply, a server killed mid-way) is
      // used although nothing was shown. So any failed view may be in the ledger's count.
      unknownViews.set(key, (unknownViews.get(key) ?? 0) + 1);
      continue;
    }
    if (r.result?.kind !== 'view') continue;
    if (r.result.verdict !== 'shown') {
      defaults++;
      // Refused offline (no server answered in time): a server may still have used the view
      // at the directory. The agent asks again with that view's id next time, so it is shown
      // then without a second use; until then the ledger may count it.
      if (OFFLINE_REFUSALS.has(r.result.reason))
        unknownViews.set(key, (unknownViews.get(key) ?? 0) + 1);
      continue;
    }
    shown++;
    const before = shownSoFar.get(key) ?? 0;
    shownSoFar.set(key, before + 1);
    const ceiling = Math.max(
      0,
      ...(maxQuota.get(key) ?? []).filter((q) => q.at_ms <= endOf(r)).map((q) => q.quota),
    );
    if (before + 1 > ceiling)
      views.fail(
        `#${r.seq} ${key}: view ${before + 1} shown; the largest quota ever granted by then was ${ceiling}`,
      );
    const held = (rightsAt.get(key) ?? []).filter((e) => e.at_ms < r.start_ms).at(-1);
    // Online the directory decides, from its own grant: an owner's change that raised the quota
    // (or restored a revoked grant) after the agent's last update and before the view ended
    // may have been what allowed it.
    const raisedMeanwhile =
      held !== undefined &&
      (maxQuota.get(key) ?? []).some(
        (q) => q.at_ms > held.at_ms && q.at_ms <= endOf(r) && q.quota > before,
      );
    if (
      held &&
      !raisedMeanwhile &&
      (held.event.revoked === true || before >= Number(held.event.quota))
    )
      views.fail(
        `#${r.seq} ${key}: view ${before + 1} shown while the agent held quota ${String(held.event.quota)}${held.event.revoked === true ? ' (revoked)' : ''}`,
      );
    const name = imageName.get(r.op.image_id);
    const expected = name === undefined ? undefined : input.imageSha256[name];
    if (expected !== undefined && r.result.sha256 !== expected)
      images.fail(
        `#${r.seq} ${key}: shown bytes ${r.result.sha256.slice(0, 12)}…, the owner's image is ${expected.slice(0, 12)}…`,
      );
  }
  for (const snapshot of input.snapshots)
    for (const held of snapshot.received) {
      const key = grantKey(held.owner, held.image_id, snapshot.username);
      const s = shownSoFar.get(key) ?? 0;
      const u = unknownViews.get(key) ?? 0;
      if (held.consumed < s || held.consumed > s + u)
        counted.fail(
          `${key}: the ledger counts ${held.consumed} views; ${s} were shown${u > 0 ? ` (and ${u} views failed or got no answer)` : ''}`,
        );
    }
  checks.push(
    views.result(
      `${shown} views shown, each within the viewer's rights and the quota granted; ${defaults} got the default image`,
    ),
  );
  checks.push(
    images.result(`${shown} images shown, each identical to the file its owner encrypted`),
  );
  checks.push(counted.result('each ledger counts exactly the views shown'));

  // ---- Offline changes: applied at sign-in --------------------------------------------------
  const offline = offlineApplications(records, input);
  const lost = new Rule('every change made while its recipient was offline applied at sign-in');
  for (const a of offline)
    if (a.applied_at_ms === null)
      lost.fail(
        `${a.kind} for ${a.recipient}: ${a.subject} (changed at ${new Date(a.changed_at_ms).toISOString()}) never applied`,
      );
  checks.push(
    lost.result(
      `${offline.length} changes made while the recipient was signed out, all applied after sign-in`,
    ),
  );

  // ---- Delivery at the end ------------------------------------------------------------------
  const delivery = new Rule('every grant delivered at the end (copy and rights)');
  for (const [key, g] of finalGrants) {
    if (g.delivery !== 'delivered' && !(g.revoked && g.delivery === 'none'))
      delivery.fail(`${key}: ${g.delivery}`);
    const [owner, imageId, viewer] = key.split('/') as [string, string, string];
    const held = bySnapshot
      .get(viewer)
      ?.received.find((x) => x.owner === owner && x.image_id === imageId);
    if (held?.state === 'waiting_for_copy' && !g.revoked)
      delivery.fail(`${key}: the viewer still waits for the copy`);
  }
  checks.push(
    delivery.result(`${finalGrants.size} grants, every copy and every rights update delivered`),
  );

  const missing = new Rule('a final snapshot of every agent');
  const agents = new Set(records.map((r) => r.op.agent));
  for (const agent of agents) if (!bySnapshot.has(agent)) missing.fail(agent);
  checks.push(
    missing.result(
      `${input.snapshots.length} agents snapshotted after the final sync`,
      `${missing.count} agents gave no snapshot`,
    ),
  );

  return {
    checks,
    offline,
    counts: {
      ops: records.length,
      ok: records.filter((r) => r.ok).length,
      failed: records.filter((r) => !r.ok).length,
      unknown_outcome: records.filter(outcomeUnknown).length,
      views_shown: shown,
      views_default: defaults,
      encryptions_verified: verified,
      requests_created: created.size,
      grant_changes: grantChanges,
    },
  };
}

/** When each agent was signed out: from a sign-out's start (or its host going down) to a sign-in. */
export function offlineIntervals(
  records: readonly OpRecord[],
  hostDown: CheckInput['hostDown'] = [],
): Map<string, { from_ms: number; to_ms: number | null; sign_in_ms: number | null }[]> {
  const out = new Map<
    string,
    { from_ms: number; to_ms: number | null; sign_in_ms: number | null }[]
  >();
  const hostOf = new Map<string, string>();
  for (const r of records) hostOf.set(r.op.agent, r.host);
  const transitions: {
    agent: string;
    at_ms: number;
    online: boolean;
    sign_in_ms: number | null;
  }[] = [];
  for (const r of records) {
    if (r.op.kind === 'sign_out')
      transitions.push({ agent: r.op.agent, at_ms: r.start_ms, online: false, sign_in_ms: null });
    if (r.op.kind === 'sign_in' && r.ok)
      transitions.push({
        agent: r.op.agent,
        at_ms: endOf(r),
        online: true,
        sign_in_ms: r.start_ms,
      });
  }
  for (const down of hostDown)
    for (const [agent, host] of hostOf)
      if (host === down.host) {
        transitions.push({ agent, at_ms: down.from_ms, online: false, sign_in_ms: null });
        if (down.to_ms !== null)
          transitions.push({ agent, at_ms: down.to_ms, online: true, sign_in_ms: down.to_ms });
      }
  transitions.sort((a, b) => a.at_ms - b.at_ms);
  for (const t of transitions) {
    const list = out.get(t.agent) ?? [];
    const open = list.at(-1);
    if (!t.online && (!open || open.to_ms !== null))
      list.push({ from_ms: t.at_ms, to_ms: null, sign_in_ms: null });
    if (t.online && open && open.to_ms === null) {
      open.to_ms = t.at_ms;
      open.sign_in_ms = t.sign_in_ms;
    }
    out.set(t.agent, list);
  }
  return out;
}

function offlineApplications(
  records: readonly OpRecord[],
  input: CheckInput,
): OfflineApplication[] {
  const intervals = offlineIntervals(records, input.hostDown);
  const offlineAt = (agent: string, at_ms: number): { sign_in_ms: number | null } | null =>
    (intervals.get(agent) ?? []).find(
      (i) => i.from_ms <= at_ms && (i.to_ms === null || at_ms < i.to_ms),
    ) ?? null;
  const requestOf = new Map<
    string,
    { requester: string; owner: string; image_id: string; views: number }
  >();
  for (const r of records)
    if (
      (r.op.kind === 'request' || r.op.kind === 'more_views') &&
      (r.result?.kind === 'request' || r.result?.kind === 'more_views')
    )
      requestOf.set(r.result.request_id, {
        requester: r.op.agent,
        owner: r.op.owner,
        image_id: r.op.image_id,
        views: r.op.views,
      });
  // Every grant version a change was acknowledged with, by grant: a change that returns a
  // version an earlier change already returned made nothing new (a quota set to its value).
  const versionsMade = new Map<string, { start_ms: number; version: number }[]>();
  for (const r of records) {
    const change = acknowledgedGrantChange(r, requestOf);
    if (!change) continue;
    const key = grantKey(change.owner, change.image_id, change.viewer);
    versionsMade.set(key, [
      ...(versionsMade.get(key) ?? []),
      { start_ms: r.start_ms, version: change.version },
    ]);
  }
  const out: OfflineApplication[] = [];
  const rightsEvents = input.events.filter((e) => e.event.type === 'rights-changed');
  const requestEvents = input.events.filter((e) => e.event.type === 'request-received');
  for (const r of records) {
    if (!r.ok) continue;
    let recipient: string | null = null;
    let subject = '';
    let matches: ((e: AgentEventRecord) => boolean) | null = null;
    let kind: OfflineApplication['kind'] = 'grant_change';
    if (
      (r.op.kind === 'request' || r.op.kind === 'more_views') &&
      (r.result?.kind === 'request' || r.result?.kind === 'more_views')
    ) {
      recipient = r.op.owner;
      const id = r.result.request_id;
      subject = `request ${id} from ${r.op.agent}`;
      kind = 'request';
      matches = (e) => (e.event.request as { request_id?: string } | undefined)?.request_id === id;
    } else {
      const change = acknowledgedGrantChange(r, requestOf);
      if (!change) continue;
      const { owner, image_id: imageId, version: v } = change;
      recipient = change.viewer;
      subject = `${owner}/${imageId} version ${v}`;
      // The version existed before this change (an earlier change returned it, and the viewer
      // may have got it with the copy rather than as an update): nothing new waits for them.
      if (
        (versionsMade.get(grantKey(owner, imageId, recipient)) ?? []).some(
          (made) => made.start_ms < r.start_ms && made.version >= v,
        )
      )
        continue;
      matches = (e) =>
        e.event.owner === owner && e.event.image_id === imageId && Number(e.event.version) >= v;
    }
    if (!recipient || !matches) continue;
    const interval = offlineAt(recipient, r.start_ms);
    if (!interval) continue;
    // A quota set to the value it already has makes no new version: nothing waits for the
    // viewer. When the viewer applied that version before the change was even made, the change
    // changed nothing (the 10k campaign of 2026-12-02 counted four such as "never applied").
    const test = matches;
    if (
      kind === 'grant_change' &&
      rightsEvents.some((e) => e.agent === recipient && e.at_ms < r.start_ms && test(e))
    )
      continue;
    const changed = endOf(r);
    const pool = kind === 'request' ? requestEvents : rightsEvents;
    const event = pool.find((e) => e.agent === recipient && e.at_ms >= r.start_ms && matches(e));
    const signIn =
      (intervals.get(recipient) ?? []).find(
        (i) => i.from_ms <= r.start_ms && (i.to_ms === null || r.start_ms < i.to_ms),
      )?.sign_in_ms ?? null;
    out.push({
      kind,
      recipient,
      subject,
      changed_at_ms: Math.round(changed),
      applied_at_ms: event?.at_ms ?? null,
      delay_ms: event ? Math.max(0, Math.round(event.at_ms - changed)) : null,
      after_sign_in_ms: event && signIn !== null ? Math.round(event.at_ms - signIn) : null,
    });
  }
  return out;
}

/** The grant an acknowledged accept, quota change or revocation touched, and its version. */
function acknowledgedGrantChange(
  r: OpRecord,
  requestOf: ReadonlyMap<string, { requester: string; owner: string; image_id: string }>,
): { owner: string; image_id: string; viewer: string; version: number } | null {
  if (!r.ok) return null;
  if (r.op.kind === 'accept' && r.result?.kind === 'accept' && r.result.grant) {
    const request = requestOf.get(r.op.request_id);
    return request
      ? {
          owner: request.owner,
          image_id: request.image_id,
          viewer: request.requester,
          version: r.result.grant.version,
        }
      : null;
  }
  if ((r.op.kind === 'set_quota' || r.op.kind === 'revoke') && r.result?.kind === r.op.kind)
    return {
      owner: r.op.agent,
      image_id: r.op.image_id,
      viewer: r.op.viewer,
      version: r.result.version,
    };
  return null;
}

function dedupe<T>(list: readonly T[]): T[] {
  const seen = new Set<string>();
  return list.filter((x) => {
    const k = JSON.stringify(x ?? null);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function describeStates(states: readonly (GrantModel | undefined)[]): string {
  if (states.length === 0) return 'no grant';
  return states
    .slice(0, 4)
    .map((g) => (g ? `quota ${g.quota} v${g.version}${g.revoked ? ' revoked' : ''}` : 'no grant'))
    .join(' or ');
}

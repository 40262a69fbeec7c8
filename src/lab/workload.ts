/**
 * The sharing workload: which operation to do next, and by whom. Pure (a seeded random source
 * is passed in), so a run can be replayed and the generator tested without a lab.
 *
 * It keeps a model of the world built from the answers: who is signed in, who owns which
 * image, which requests are pending, what each grant is. Each call to `next()` picks a kind by
 * weight among the kinds that make sense right now (a view needs a grant, an accept a pending
 * request…) and the agents it needs; the acting agent is busy until `complete()` hears how it
 * went, so an agent does one thing at a time, as a person would. Offline users are sought on
 * purpose: requests to owners who are signed out, quota changes for viewers who are signed out
 * (they wait in the directory until sign-in). The model is only a planner: the checker
 * (checker.ts) decides what is right from the record alone.
 */
import { applyGrantChange, grantKey, type GrantModel } from './grants.js';
import type { LabOp, OpKind, OpOutcome } from './ops.js';

export interface WorkloadOptions {
  /** Relative weights per kind (0 never); missing kinds take the default. */
  mix: Partial<Record<OpKind, number>>;
  max_images_per_agent: number;
  max_views_per_request: number;
  max_quota: number;
  /** Sign-outs stop when fewer than this share of agents would stay signed in. */
  min_online_fraction: number;
  /** How often a request or quota change deliberately targets a signed-out user, when one exists. */
  offline_bias: number;
}

export const DEFAULT_MIX: Record<OpKind, number> = {
  view: 22,
  request: 12,
  more_views: 5,
  accept: 11,
  reject: 3,
  set_quota: 8,
  revoke: 3,
  peers: 7,
  previews: 5,
  encrypt: 8,
  sign_out: 3,
  sign_in: 3,
};

export const DEFAULT_WORKLOAD: WorkloadOptions = {
  mix: {},
  max_images_per_agent: 3,
  max_views_per_request: 5,
  max_quota: 8,
  min_online_fraction: 0.7,
  offline_bias: 0.35,
};

interface AgentModel {
  name: string;
  host: string;
  online: boolean;
  busy: boolean;
  images: string[];
}

interface RequestModel {
  requester: string;
  owner: string;
  image_id: string;
  views: number;
  /** `unknown`: an answer was sent but its outcome is not known. */
  status: 'pending' | 'accepted' | 'rejected' | 'unknown';
}

export class Workload {
  private readonly agents = new Map<string, AgentModel>();
  private readonly imageOwner = new Map<string, string>();
  private readonly requests = new Map<string, RequestModel>();
  /** requester/owner/image → a request may be pending (the directory allows one at a time). */
  private readonly maybePending = new Set<string>();
  private readonly grants = new Map<
    string,
    GrantModel & { owner: string; image_id: string; viewer: string }
  >();
  private readonly mix: Record<OpKind, number>;
  /** Hosts that are down: their agents get nothing, not even a sign-in, until they are back. */
  private readonly downHosts = new Set<string>();
  private titles = 0;

  constructor(
    agents: readonly { name: string; host: string }[],
    private readonly images: readonly string[],
    private readonly random: () => number,
    private readonly options: WorkloadOptions = DEFAULT_WORKLOAD,
  ) {
    for (const a of agents)
      this.agents.set(a.name, {
        name: a.name,
        host: a.host,
        online: true,
        busy: false,
        images: [],
      });
    this.mix = { ...DEFAULT_MIX, ...options.mix };
  }

  /** Agents of a host that went down are signed out (the host lost them); back up, signed in. */
  setHostOnline(host: string, online: boolean): void {
    if (online) this.downHosts.delete(host);
    else this.downHosts.add(host);
    for (const agent of this.agents.values()) if (agent.host === host) agent.online = online;
  }

  isOnline(agent: string): boolean {
    return this.agents.get(agent)?.online ?? false;
  }

  get busyCount(): number {
    let n = 0;
    for (const a of this.agents.values()) if (a.busy) n++;
    return n;
  }

  /** The next operation, its actor marked busy; null when nothing can be done right now. */
  next(): LabOp | null {
    const free = [...this.agents.values()].filter((a) => !a.busy && !this.downHosts.has(a.host));
    const candidates = new Map<OpKind, () => LabOp | null>();
    const onlineFree = free.filter((a) => a.online);
    const offlineFree = free.filter((a) => !a.online);
    const onlineCount = [...this.agents.values()].filter((a) => a.online).length;
    const add = (kind: OpKind, make: () => LabOp | null): void => {
      if (this.mix[kind] > 0) candidates.set(kind, make);
    };
    if (onlineFree.length > 0) {
      add('peers', () => ({ kind: 'peers', agent: this.pick(onlineFree).name }));
      add('encrypt', () => this.encrypt(onlineFree));
      add('previews', () => this.previews(onlineFree));
      add('request', () => this.request(onlineFree));
      add('more_views', () => this.moreViews(onlineFree));
      add('accept', () => this.answer(onlineFree, 'accept'));
      add('reject', () => this.answer(onlineFree, 'reject'));
      add('view', () => this.view(onlineFree));
      add('set_quota', () => this.setQuota(onlineFree));
      add('revoke', () => this.revoke(onlineFree));
      if ((onlineCount - 1) / this.agents.size >= this.options.min_online_fraction)
        add('sign_out', () => ({ kind: 'sign_out', agent: this.pick(onlineFree).name }));
    }
    if (offlineFree.length > 0)
      add('sign_in', () => ({ kind: 'sign_in', agent: this.pick(offlineFree).name }));
    // Try kinds in weighted random order until one finds something to do.
    const kinds = [...candidates.keys()];
    while (kinds.length > 0) {
      const weights = kinds.map((k) =>
        k === 'sign_in'
          ? this.mix.sign_in * (1 + 10 * (offlineFree.length / this.agents.size))
          : this.mix[k],
      );
      const total = weights.reduce((a, b) => a + b, 0);
      let r = this.random() * total;
      let index = 0;
      while (index < kinds.length - 1 && r >= (weights[index] as number))
        r -= weights[index++] as number;
      const kind = kinds[index] as OpKind;
      kinds.splice(index, 1);
      const op = candidates.get(kind)?.();
      if (op) {
        const agent = this.agents.get(op.agent) as AgentModel;
        agent.busy = true;
        // Signing out starts now: nobody should count on this agent being reachable meanwhile.
        if (op.kind === 'sign_out') agent.online = false;
        return op;
      }
    }
    return null;
  }

  /** Learns from how `op` went and frees its agent. */
  complete(op: LabOp, outcome: OpOutcome): void {
    const agent = this.agents.get(op.agent);
    if (agent) agent.busy = false;
    if (!agent) return;
    const result = outcome.result;
    switch (op.kind) {
      case 'sign_in':
        agent.online = outcome.ok || outcome.error?.code === 'already_signed_in';
        return;
      case 'sign_out':
        agent.online = false; // the user host forgets the agent even if signing out failed
        return;
      case 'encrypt':
        if (result?.kind === 'encrypt') {
          agent.images.push(result.image_id);
          this.imageOwner.set(result.image_id, agent.name);
        }
        return;
      case 'request':
      case 'more_views': {
        const key = `${op.agent}/${op.owner}/${op.image_id}`;
        if (result?.kind === op.kind) {
          this.requests.set(result.request_id, {
            requester: op.agent,
            owner: op.owner,
            image_id: op.image_id,
            views: op.views,
            status: 'pending',
          });
          this.maybePending.add(key);
        } else if (!outcome.ok) this.maybePending.add(key); // may exist (or conflicts): leave it
        return;
      }
      case 'accept':
      case 'reject': {
        const request = this.requests.get(op.request_id);
        if (!request) return;
        if (outcome.ok) {
          request.status = op.kind === 'accept' ? 'accepted' : 'rejected';
          this.maybePending.delete(`${request.requester}/${request.owner}/${request.image_id}`);
          if (op.kind === 'accept')
            this.changeGrant(request.owner, request.image_id, request.requester, {
              kind: 'accept',
              views: request.views,
            });
        } else request.status = 'unknown';
        return;
      }
      case 'set_quota':
        if (outcome.ok)
          this.changeGrant(op.agent, op.image_id, op.viewer, {
            kind: 'set_quota',
            quota: op.quota,
          });
        return;
      case 'revoke':
        if (outcome.ok) this.changeGrant(op.agent, op.image_id, op.viewer, { kind: 'revoke' });
        return;
      default:
        return;
    }
  }

  private changeGrant(
    owner: string,
    imageId: string,
    viewer: string,
    change: Parameters<typeof applyGrantChange>[1],
  ): void {
    const key = grantKey(owner, imageId, viewer);
    const next = applyGrantChange(this.grants.get(key), change);
    if (next) this.grants.set(key, { ...next, owner, image_id: imageId, viewer });
  }

  private pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.random() * list.length)] as T;
  }

  private chance(p: number): boolean {
    return this.random() < p;
  }

  private views(): number {
    return 1 + Math.floor(this.random() * this.options.max_views_per_request);
  }

  private encrypt(free: AgentModel[]): LabOp | null {
    const able = free.filter((a) => a.images.length < this.options.max_images_per_agent);
    if (able.length === 0 || this.images.length === 0) return null;
    const agent = this.pick(able);
    return {
      kind: 'encrypt',
      agent: agent.name,
      image: this.pick(this.images),
      title: `lab image ${++this.titles}`,
    };
  }

  private previews(free: AgentModel[]): LabOp | null {
    const owners = [...this.agents.values()].filter((a) => a.online && a.images.length > 0);
    const agent = this.pick(free);
    const others = owners.filter((o) => o.name !== agent.name);
    if (others.length === 0) return null;
    return { kind: 'previews', agent: agent.name, owner: this.pick(others).name };
  }

  private request(free: AgentModel[]): LabOp | null {
    const agent = this.pick(free);
    const images = [...this.imageOwner].filter(([imageId, owner]) => {
      if (owner === agent.name || this.maybePending.has(`${agent.name}/${owner}/${imageId}`))
        return false;
      const grant = this.grants.get(grantKey(owner, imageId, agent.name));
      return !grant || grant.revoked;
    });
    if (images.length === 0) return null;
    const offline = images.filter(([, owner]) => !this.isOnline(owner));
    const [imageId, owner] = this.pick(
      offline.length > 0 && this.chance(this.options.offline_bias) ? offline : images,
    );
    return { kind: 'request', agent: agent.name, owner, image_id: imageId, views: this.views() };
  }

  private moreViews(free: AgentModel[]): LabOp | null {
    const names = new Set(free.map((a) => a.name));
    const grants = [...this.grants.values()].filter(
      (g) =>
        names.has(g.viewer) &&
        !g.revoked &&
        !this.maybePending.has(`${g.viewer}/${g.owner}/${g.image_id}`),
    );
    if (grants.length === 0) return null;
    const g = this.pick(grants);
    return {
      kind: 'more_views',
      agent: g.viewer,
      owner: g.owner,
      image_id: g.image_id,
      views: this.views(),
    };
  }

  private answer(free: AgentModel[], kind: 'accept' | 'reject'): LabOp | null {
    const names = new Set(free.map((a) => a.name));
    const pending = [...this.requests].filter(
      ([, r]) => r.status === 'pending' && names.has(r.owner),
    );
    if (pending.length === 0) return null;
    const [requestId, request] = this.pick(pending);
    return { kind, agent: request.owner, request_id: requestId };
  }

  private view(free: AgentModel[]): LabOp | null {
    const names = new Set(free.map((a) => a.name));
    const grants = [...this.grants.values()].filter((g) => names.has(g.viewer));
    if (grants.length === 0) return null;
    // Mostly grants with views left; sometimes a used-up or revoked one (the default image).
    const active = grants.filter((g) => !g.revoked && g.quota > 0);
    const g = this.pick(active.length > 0 && this.chance(0.85) ? active : grants);
    return { kind: 'view', agent: g.viewer, owner: g.owner, image_id: g.image_id };
  }

  private ownedGrants(
    free: AgentModel[],
    filter: (g: GrantModel) => boolean,
  ): (GrantModel & { owner: string; image_id: string; viewer: string })[] {
    const names = new Set(free.map((a) => a.name));
    return [...this.grants.values()].filter((g) => names.has(g.owner) && filter(g));
  }

  private setQuota(free: AgentModel[]): LabOp | null {
    const grants = this.ownedGrants(free, () => true);
    if (grants.length === 0) return null;
    const offline = grants.filter((g) => !this.isOnline(g.viewer));
    const g = this.pick(
      offline.length > 0 && this.chance(this.options.offline_bias) ? offline : grants,
    );
    const quota = Math.floor(this.random() * (this.options.max_quota + 1));
    return { kind: 'set_quota', agent: g.owner, image_id: g.image_id, viewer: g.viewer, quota };
  }

  private revoke(free: AgentModel[]): LabOp | null {
    const grants = this.ownedGrants(free, (g) => !g.revoked);
    if (grants.length === 0) return null;
    const offline = grants.filter((g) => !this.isOnline(g.viewer));
    const g = this.pick(
      offline.length > 0 && this.chance(this.options.offline_bias) ? offline : grants,
    );
    return { kind: 'revoke', agent: g.owner, image_id: g.image_id, viewer: g.viewer };
  }
}

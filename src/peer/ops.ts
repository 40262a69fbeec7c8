/**
 * The use cases as one interface, whoever carries them out: the agent in this process
 * (`localOps`, for one-shot CLI commands and tests) or a running agent through its HTTP API
 * (`ApiAgentClient` in api-client.ts). The CLI is written against this interface only.
 *
 * Its answers are the API's (api-types.ts), and the client returns what the route table
 * (api-routes.ts) types each route's answer, so a difference between the two does not compile.
 * Arguments stay positional here: the table's shapes are the wire's (`image_id`, bodies), the
 * CLI's calls read better without them.
 */
import type { PeerAgent } from './agent.js';
import type { RequestRole, RequestStatus } from './api-routes.js';
import { ENCRYPT_DONE_STEP } from './api-types.js';
import type {
  OfflineAllowance,
  AgentStatus,
  AnswerResult,
  EncryptResult,
  GrantView,
  OwnImageView,
  PeerView,
  PreviewView,
  ReceivedView,
  RequestCreated,
  RequestView,
  SyncReport,
  WithdrawResult,
} from './api-types.js';
import type { ViewOutcome } from './viewer-views.js';

export type { ViewOutcome };

export interface AgentOps {
  status(): Promise<AgentStatus>;
  peers(): Promise<PeerView[]>;
  previews(username: string): Promise<PreviewView[]>;
  preview(username: string, imageId: string): Promise<Uint8Array>;
  encrypt(
    image: Uint8Array,
    title: string,
    onProgress?: (step: string) => void,
  ): Promise<EncryptResult>;
  ownImages(): Promise<OwnImageView[]>;
  ownStego(imageId: string): Promise<Uint8Array>;
  requests(role: RequestRole, status?: RequestStatus): Promise<RequestView[]>;
  request(owner: string, imageId: string, views: number): Promise<RequestCreated>;
  /** `onProgress`: the steps of making and delivering the viewer's copy (accept). */
  answer(
    requestId: string,
    decision: 'accepted' | 'rejected',
    offline?: OfflineAllowance,
    onProgress?: (step: string) => void,
  ): Promise<AnswerResult>;
  grants(): Promise<GrantView[]>;
  setGrant(
    imageId: string,
    username: string,
    quota: number,
    offline?: OfflineAllowance,
  ): Promise<GrantView>;
  revoke(imageId: string, username: string): Promise<GrantView>;
  withdraw(imageId: string, options?: { revokeGrants?: boolean }): Promise<WithdrawResult>;
  received(): Promise<ReceivedView[]>;
  view(owner: string, imageId: string): Promise<ViewOutcome>;
  viewFile(bytes: Uint8Array): Promise<ViewOutcome>;
  sync(): Promise<SyncReport>;
}

export function localOps(agent: PeerAgent): AgentOps {
  return {
    status: async () => agent.status(),
    peers: () => agent.peers(),
    previews: (username) => agent.previews(username),
    preview: (username, imageId) => agent.preview(username, imageId),
    encrypt: (image, title, onProgress) =>
      followProgress(agent, onProgress, (operation) => agent.encrypt(image, title, operation)),
    ownImages: () => agent.ownImages(),
    ownStego: async (imageId) => agent.ownStego(imageId),
    requests: (role, status) => agent.requests(role, status),
    request: (owner, imageId, views) => agent.request(owner, imageId, views),
    answer: (requestId, decision, offline, onProgress) =>
      followProgress(agent, onProgress, (operation) =>
        agent.answer(requestId, decision, offline, operation),
      ),
    grants: () => agent.grants(),
    setGrant: (imageId, username, quota, offline) =>
      agent.setGrant(imageId, username, quota, offline),
    revoke: (imageId, username) => agent.revoke(imageId, username),
    withdraw: (imageId, options) => agent.withdraw(imageId, options),
    received: async () => agent.received(),
    view: (owner, imageId) => agent.view(owner, imageId),
    viewFile: (bytes) => agent.viewFile(bytes),
    sync: () => agent.sync(),
  };
}

/** Runs an agent call under a fresh operation id and passes that operation's steps on. */
function followProgress<T>(
  agent: PeerAgent,
  onProgress: ((step: string) => void) | undefined,
  call: (operation: string) => Promise<T>,
): Promise<T> {
  const operation = `local-${Math.random().toString(36).slice(2, 10)}`;
  const off = agent.events.on((event) => {
    if (
      event.type === 'encrypt-progress' &&
      event.operation === operation &&
      event.step !== ENCRYPT_DONE_STEP
    )
      onProgress?.(event.step);
  });
  return call(operation).finally(off);
}

/**
 * What the directory does for each op of the table (src/protocol/directory-ops.ts): one
 * handler per op, called by DirectoryService with arguments its schema has already checked
 * and, for signed ops, the user whose signature it verified (`actor`). The store
 * (src/directory) checks the values once more against the database's own rules: that is its
 * contract with every caller, not a second parse of the request.
 */
import { verify } from '../identity/keys.js';
import { DirectoryError, type DirectoryStore, type UserId } from '../directory/index.js';
import type { DirectoryOp, OpArgs, SignedOp } from '../protocol/directory-ops.js';
import {
  fromHex,
  loginProofBytes,
  registrationProofBytes,
} from '../protocol/directory-protocol.js';

/** What a handler may use. */
export interface OpContext<Actor extends UserId | null> {
  store: DirectoryStore;
  clusterId: number;
  /** The user whose signature the service verified; null for ops anyone may call. */
  actor: Actor;
  /** A user's public key (cached: keys never change). */
  publicKeyOf(userId: UserId): Promise<Uint8Array>;
  rememberKey(userId: UserId, key: Uint8Array): void;
}

type Handlers = {
  [Op in DirectoryOp]: (
    ctx: OpContext<Op extends SignedOp ? UserId : null>,
    args: OpArgs<Op>,
  ) => Promise<unknown>;
};

const done = { ok: true } as const;

function invalid(message: string): never {
  throw new DirectoryError('invalid_argument', message);
}

/** The schemas checked the hex; this only turns it into bytes. */
function bytesOf(hex: string, length: number): Uint8Array {
  return fromHex(hex, length) ?? invalid(`expected ${length * 2} lowercase hex characters`);
}

export const DIRECTORY_HANDLERS: Handlers = {
  async register({ store, rememberKey }, { username, public_key, proof }) {
    const publicKey = bytesOf(public_key, 32);
    if (!verify(publicKey, registrationProofBytes(username, public_key), bytesOf(proof, 64))) {
      throw new DirectoryError(
        'denied',
        'register: the proof is not a signature of the username by this key',
      );
    }
    const user = await store.registerUser({ username, public_key: publicKey });
    rememberKey(user.user_id, user.public_key);
    return user;
  },

  async challenge({ store }, { username }) {
    const user = await store.findUserByUsername(username);
    if (!user) throw new DirectoryError('not_found', `no user named ${username}; register first`);
    return store.createChallenge(user.user_id);
  },

  async login({ store, clusterId, publicKeyOf }, { user_id, nonce, signature, address, port }) {
    const publicKey = await publicKeyOf(user_id);
    if (!verify(publicKey, loginProofBytes(clusterId, user_id, nonce), bytesOf(signature, 64))) {
      throw new DirectoryError(
        'denied',
        "login: the challenge answer is not signed by this user's key",
      );
    }
    // Only after the signature checks out may the nonce be spent (a forgery cannot burn it).
    await store.consumeChallenge(user_id, nonce);
    await store.goOnline(user_id, { user_id, address, port });
    return store.heartbeat(user_id, user_id);
  },

  heartbeat: ({ store, actor }) => store.heartbeat(actor, actor),

  async logout({ store, actor }) {
    await store.goOffline(actor, actor);
    return done;
  },

  async get_user({ store }, { user_id, username }) {
    const user =
      user_id !== undefined && username === undefined
        ? await store.getUser(user_id)
        : username !== undefined && user_id === undefined
          ? await store.findUserByUsername(username)
          : invalid('give exactly one of user_id and username');
    if (!user) throw new DirectoryError('not_found', `no user ${user_id ?? username}`);
    return user;
  },

  list_online: ({ store }, page) => store.listOnlineUsers(page),

  offer_image: ({ store, actor }, offer) => store.offerImage(actor, { ...offer, owner_id: actor }),

  async withdraw_image({ store, actor }, { image_id }) {
    await store.withdrawImage(actor, { owner_id: actor, image_id });
    return done;
  },

  list_images: ({ store }, query) => store.listImages(query),

  create_request: ({ store, actor }, request) =>
    store.createRequest(actor, { ...request, requester_id: actor }),

  answer_request: ({ store, actor }, answer) => store.answerRequest(actor, answer),

  list_requests: ({ store, actor }, query) => store.listRequests(actor, query),

  set_grant: ({ store, actor }, grant) => store.setGrant(actor, { ...grant, owner_id: actor }),

  revoke_grant: ({ store, actor }, grant) =>
    store.revokeGrant(actor, { ...grant, owner_id: actor }),

  get_grant: async ({ store, actor }, key) => ({
    grant: (await store.getGrant(actor, key)) ?? null,
  }),

  list_grants: ({ store, actor }, query) => store.listGrants(actor, query),

  record_views: ({ store, actor }, views) =>
    store.recordViews(actor, { ...views, viewer_id: actor }),

  consume_view: ({ store, actor }, grant) =>
    store.consumeView(actor, { ...grant, viewer_id: actor }),

  take_updates: ({ store, actor }, { limit }) =>
    store.takeUpdates(actor, actor, limit === undefined ? {} : { limit }),

  async ack_updates({ store, actor }, { update_ids }) {
    return { acknowledged: await store.ackUpdates(actor, actor, update_ids) };
  },
};

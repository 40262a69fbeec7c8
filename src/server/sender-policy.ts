/**
 * Who may say what: a message's sender is the peer its connection proved (src/transport/tls.ts),
 * never a field the message carries.
 *
 * - A member's link carries server messages only, each with `from` = that member's id.
 * - A client connection carries client messages only, with `client_id` = the id of the key it
 *   proved, so nobody can poll, acknowledge or receive another client's task.
 * - A connection without a certificate may only say Hello and make (user-signed) directory
 *   requests.
 * - The plaintext benchmark mode proves nothing and checks nothing (as before TLS).
 */
import { MESSAGE_TYPES } from '../core/messages.js';
import type { CloudMessage } from '../protocol/cloud-protocol.js';
import type { PeerIdentity } from '../transport/tls.js';

const SERVER_TYPES: ReadonlySet<string> = new Set<string>(MESSAGE_TYPES.serverToServer);
const CLIENT_TYPES: ReadonlySet<string> = new Set<string>([
  ...MESSAGE_TYPES.clientToServer,
  'Hello',
  'DirectoryRequest',
]);
const PUBLIC_TYPES: ReadonlySet<string> = new Set<string>(['Hello', 'DirectoryRequest']);

export interface SenderRefusal {
  code: 'not_a_member' | 'sender_mismatch' | 'client_id_mismatch' | 'not_allowed';
  message: string;
}

/** Null when `peer` may send `message`; otherwise why not (sent back as an Error). */
export function senderRefusal(peer: PeerIdentity, message: CloudMessage): SenderRefusal | null {
  if (message.type === 'Error' || peer.kind === 'unverified') return null;
  if (peer.kind === 'server') {
    if (!SERVER_TYPES.has(message.type))
      return {
        code: 'not_allowed',
        message: `a server link carries server messages only, not ${message.type}`,
      };
    const from = (message as { from: number }).from;
    return from === peer.serverId
      ? null
      : {
          code: 'sender_mismatch',
          message: `this link proved server ${peer.serverId}; a ${message.type} from server ${from} is refused`,
        };
  }
  if (SERVER_TYPES.has(message.type))
    return {
      code: 'not_a_member',
      message: `${message.type} is accepted only from a proven member of this cloud (a server certificate issued by its CA)`,
    };
  if (peer.kind === 'anonymous')
    return PUBLIC_TYPES.has(message.type)
      ? null
      : {
          code: 'not_allowed',
          message: `${message.type} needs a client certificate (a key that results are bound to); without one only Hello and directory requests are accepted`,
        };
  if (!CLIENT_TYPES.has(message.type))
    return { code: 'not_allowed', message: `a client may not send ${message.type}` };
  if ('client_id' in message && message.type !== 'Hello' && message.client_id !== peer.clientId)
    return {
      code: 'client_id_mismatch',
      message: `this connection proved the key of client ${peer.clientId}; client id ${message.client_id} is refused`,
    };
  return null;
}

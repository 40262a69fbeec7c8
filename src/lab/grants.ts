/**
 * How the directory changes a grant, as pure functions (src/directory/sql-store.ts is the truth;
 * these mirror its documented rules so the workload can plan and the checker can replay):
 *
 * - accept a request: quota = existing active quota + views, or views for a new or revoked
 *   grant; never revoked after; version + 1 (a new grant starts at 1).
 * - set quota: nothing changes when the grant is active with that quota already; otherwise the
 *   quota is set, the grant is active, version + 1.
 * - revoke: refused (not found) without a grant; nothing changes when already revoked;
 *   otherwise revoked, quota kept, version + 1.
 */

export interface GrantModel {
  quota: number;
  revoked: boolean;
  version: number;
}

export type GrantChange =
  { kind: 'accept'; views: number } | { kind: 'set_quota'; quota: number } | { kind: 'revoke' };

/** The grant after `change`; undefined when there was none and the change creates none. */
export function applyGrantChange(
  grant: GrantModel | undefined,
  change: GrantChange,
): GrantModel | undefined {
  switch (change.kind) {
    case 'accept':
      return {
        quota: grant && !grant.revoked ? grant.quota + change.views : change.views,
        revoked: false,
        version: grant ? grant.version + 1 : 1,
      };
    case 'set_quota':
      if (grant && !grant.revoked && grant.quota === change.quota) return grant;
      return { quota: change.quota, revoked: false, version: grant ? grant.version + 1 : 1 };
    case 'revoke':
      if (!grant || grant.revoked) return grant;
      return { ...grant, revoked: true, version: grant.version + 1 };
  }
}

export function grantKey(owner: string, imageId: string, viewer: string): string {
  return `${owner}/${imageId}/${viewer}`;
}

export function sameGrant(a: GrantModel | undefined, b: GrantModel | undefined): boolean {
  if (!a || !b) return a === b;
  return a.quota === b.quota && a.revoked === b.revoked && a.version === b.version;
}

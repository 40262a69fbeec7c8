import { describe, expect, it } from 'vitest';
import { applyGrantChange } from '../../../src/lab/grants.js';

describe('grant changes (the directory rules, replayed)', () => {
  it('accept creates at version 1, then adds views to an active grant', () => {
    const first = applyGrantChange(undefined, { kind: 'accept', views: 3 });
    expect(first).toEqual({ quota: 3, revoked: false, version: 1 });
    expect(applyGrantChange(first, { kind: 'accept', views: 2 })).toEqual({
      quota: 5,
      revoked: false,
      version: 2,
    });
  });

  it('setting the same quota again changes nothing; revoking twice bumps once', () => {
    const g = { quota: 4, revoked: false, version: 3 };
    expect(applyGrantChange(g, { kind: 'set_quota', quota: 4 })).toBe(g);
    const revoked = applyGrantChange(g, { kind: 'revoke' });
    expect(revoked).toEqual({ quota: 4, revoked: true, version: 4 });
    expect(applyGrantChange(revoked, { kind: 'revoke' })).toBe(revoked);
    expect(applyGrantChange(undefined, { kind: 'revoke' })).toBeUndefined();
  });

  it('accept or set quota on a revoked grant restores it with the new quota', () => {
    const revoked = { quota: 4, revoked: true, version: 4 };
    expect(applyGrantChange(revoked, { kind: 'accept', views: 2 })).toEqual({
      quota: 2,
      revoked: false,
      version: 5,
    });
    expect(applyGrantChange(revoked, { kind: 'set_quota', quota: 4 })).toEqual({
      quota: 4,
      revoked: false,
      version: 5,
    });
  });
});

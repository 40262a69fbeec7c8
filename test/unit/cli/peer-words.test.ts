import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  describeGrant,
  describeReceived,
  describeRequest,
} from '../../../src/cli/commands/peer/describe.js';
import { defaultImagePath, shownImagePath } from '../../../src/cli/commands/peer/view-paths.js';
import { logLinesSince, logSize } from '../../../src/cli/commands/peer/log-tail.js';
import type { GrantView, ReceivedView, RequestView } from '../../../src/peer/api-types.js';
import { count } from '../../../src/util/words.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('peer command words', () => {
  it('counts with the right noun form', () => {
    expect(count(1, 'own image')).toBe('1 own image');
    expect(count(2, 'own image')).toBe('2 own images');
    expect(count(0, 'view')).toBe('0 views');
    expect(count(1, 'copy or update', 'copies or updates')).toBe('1 copy or update');
  });

  it('says "1 view", not "1 views", in grants, requests and received images', () => {
    const grant = {
      image_id: 'img1',
      viewer: 'bob',
      quota: 1,
      revoked: false,
      version: 2,
      delivery: 'delivered',
      problem: null,
    } as unknown as GrantView;
    expect(describeGrant(grant)).toBe('img1 -> bob: 1 view, version 2');
    const request = {
      request_id: 'r1',
      requester: 'bob',
      owner: 'alice',
      image_id: 'img1',
      views: 1,
      kind: 'more_views',
      status: 'pending',
    } as unknown as RequestView;
    expect(describeRequest(request)).toContain('for 1 more view of img1');
    const received = {
      owner: 'alice',
      image_id: 'img1',
      state: 'viewable',
      views_left: 1,
      quota: 1,
    } as unknown as ReceivedView;
    expect(describeReceived(received)).toBe('alice/img1: 1 of 1 view left');
  });

  it("shows each viewer's views used and left, when the directory knows them", () => {
    const grant = (over: Partial<GrantView>): GrantView => ({
      image_id: 'img1',
      viewer: 'bob',
      viewer_id: 'b',
      quota: 5,
      views_used: 2,
      revoked: false,
      version: 3,
      delivery: 'delivered',
      offline: null,
      ...over,
    });
    expect(describeGrant(grant({}))).toBe('img1 -> bob: 5 views (2 used, 3 left), version 3');
    expect(describeGrant(grant({ views_used: 1, quota: 1 }))).toBe(
      'img1 -> bob: 1 view (1 used, 0 left), version 3',
    );
    expect(describeGrant(grant({ views_used: null }))).toBe('img1 -> bob: 5 views, version 3');
    expect(describeGrant(grant({ revoked: true }))).toBe(
      'img1 -> bob: revoked (2 views used before), version 3',
    );
  });

  it('escapes control characters a peer put in a delivery problem', () => {
    const grant = {
      image_id: 'img1',
      viewer: 'bob',
      quota: 3,
      revoked: false,
      version: 1,
      delivery: 'pending',
      problem: 'x\u001b[2Jy',
    } as unknown as GrantView;
    expect(describeGrant(grant)).not.toContain('\u001b');
    expect(describeGrant(grant)).toContain('x\\u{001b}[2Jy');
  });
});

describe('peer view: where the default image goes', () => {
  it('never under the name asked for the real image, nor with a non-PNG extension', () => {
    expect(defaultImagePath('photo.jpg', 'alice-img1')).toBe('photo.default.png');
    expect(defaultImagePath('out/photo', 'alice-img1')).toBe('out/photo.default.png');
    expect(defaultImagePath('dir.v2/photo', 'alice-img1')).toBe('dir.v2/photo.default.png');
    expect(defaultImagePath(undefined, 'alice-img1')).toBe('alice-img1.default.png');
  });

  it('writes the shown image with an extension that matches its bytes, and says so', () => {
    expect(shownImagePath('x.jpg', 'alice-img1', 'image/png')).toEqual({
      path: 'x.png',
      corrected: 'the image is a PNG, so it was written to x.png, not x.jpg',
    });
    expect(shownImagePath('out/x.PNG', 's', 'image/jpeg').path).toBe('out/x.jpg');
    expect(shownImagePath('x.jpeg', 's', 'image/jpeg')).toEqual({ path: 'x.jpeg' });
    expect(shownImagePath('x.png', 's', 'image/png')).toEqual({ path: 'x.png' });
    expect(shownImagePath('notes.v2', 's', 'image/png')).toEqual({ path: 'notes.v2' });
    expect(shownImagePath(undefined, 'alice-img1', 'image/jpeg')).toEqual({
      path: 'alice-img1.jpg',
    });
  });
});

describe('peer login: the agent log shown after a failure', () => {
  it('holds only the lines this attempt wrote', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cloudp2p-log-'));
    dirs.push(dir);
    const path = join(dir, 'agent.log');
    writeFileSync(path, 'old run: cloud unreachable\nold run: stopped\n');
    const from = logSize(path);
    appendFileSync(path, 'this run: starting\nthis run: bad certificate\n');
    expect(logLinesSince(path, from, 5)).toEqual([
      'this run: starting',
      'this run: bad certificate',
    ]);
    expect(logLinesSince(join(dir, 'missing.log'), 0, 5)).toEqual([]);
    expect(logLinesSince(path, logSize(path), 5)).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { ImageId, UserId } from '../../../src/protocol/ids.js';
import {
  Int,
  List,
  Literal,
  Num,
  OneOf,
  Optional,
  Strict,
  Text,
  Tolerant,
  Variant,
  checker,
  parseFirst,
} from '../../../src/protocol/schema.js';

const Message = Variant('type', [
  Strict({
    type: Literal('Offer'),
    owner_id: UserId,
    image_id: ImageId,
    views: Int(1, 10_000),
    title: Optional(Text(200)),
    images: List(Strict({ width: Int(1, 65_535) }), 2),
  }),
  Strict({ type: Literal('Ping'), role: OneOf(['owner', 'viewer']) }),
]);
const check = checker(Message);
const offer = {
  type: 'Offer',
  owner_id: '0b8e1c1e-7f5a-4c3e-9d2a-1b2c3d4e5f60',
  image_id: 'a1',
  views: 3,
  images: [{ width: 10 }],
};

function withoutOwner(): Record<string, unknown> {
  const { owner_id: _, ...rest } = offer;
  return rest;
}

describe('checker', () => {
  it('accepts a valid value and types it', () => {
    expect(check.is(offer)).toBe(true);
    expect(check.problem(offer, 'M')).toBeNull();
    expect(check.is({ type: 'Ping', role: 'viewer' })).toBe(true);
  });

  it.each([
    [{ ...offer, views: 0 }, 'M.views: expected an integer from 1 to 10000'],
    [{ ...offer, views: 2.5 }, 'M.views: expected an integer from 1 to 10000'],
    [{ ...offer, views: '3' }, 'M.views: expected an integer from 1 to 10000'],
    [{ ...offer, image_id: 'A!' }, 'M.image_id: expected 1–64 characters'],
    [{ ...offer, extra: 1 }, 'M.extra: unknown field "extra"; allowed: type, owner_id'],
    [{ ...offer, owner_id: undefined }, 'M.owner_id: expected a lowercase UUID'],
    [withoutOwner(), 'M.owner_id: missing; expected a lowercase UUID'],
    [{ ...offer, title: 'a\u0007' }, 'M.title: expected 1..200 characters without control'],
    [{ ...offer, images: [{ width: 1 }, { width: 0 }] }, 'M.images[1].width: expected an integer'],
    [{ ...offer, images: [{}, {}, {}] }, 'M.images: expected a list of at most 2 items'],
    [{ type: 'Ping', role: 'admin' }, 'M.role: expected one of "owner", "viewer"'],
    [{ type: 'Pong' }, 'M.type: expected one of "Offer", "Ping"'],
    [[], 'M'],
    ['text', 'M'],
  ])('names the field and what is allowed: %j', (value, message) => {
    expect(check.is(value)).toBe(false);
    expect(check.problem(value, 'M')).toContain(message);
  });

  it('without a prefix, says "the value"', () => {
    expect(checker(Int(1, 2)).problem(3)).toBe('the value: expected an integer from 1 to 2');
  });
});

describe('Num', () => {
  const percent = checker(Num(0, 100));

  it('accepts finite numbers in range, fractions included', () => {
    for (const value of [0, 37.5, 100]) expect(percent.is(value), String(value)).toBe(true);
  });

  it.each([[-0.1], [100.5], [Number.NaN], [Number.POSITIVE_INFINITY], ['50'], [null]])(
    'refuses %j and says the range',
    (value) => {
      expect(percent.problem(value, 'pct')).toBe('pct: expected a number from 0 to 100');
    },
  );
});

describe('Tolerant', () => {
  const Point = Tolerant({ x: Int(0, 9), y: Int(0, 9) });

  it('accepts unknown fields and leaves them out of the parsed value', () => {
    expect(parseFirst(Point, { x: 1, y: 2, z: 3 })).toEqual({ ok: true, value: { x: 1, y: 2 } });
  });

  it('names a missing field, a wrong one, and a value that is no object', () => {
    const p = checker(Point);
    expect(p.problem({ x: 1 }, 'P')).toBe('P.y: missing; expected an integer from 0 to 9');
    expect(p.problem({ x: 1, y: 10 }, 'P')).toBe('P.y: expected an integer from 0 to 9');
    expect(p.problem(7, 'P')).toBe('P: expected an object with x, y');
  });
});

describe('List', () => {
  it('refuses a list of the wrong length before reading its items', () => {
    const pair = checker(List(Int(0, 9), 2, 1));
    expect(pair.problem([], 'L')).toBe('L: expected a list of 1..2 items');
    expect(pair.problem([1, 2, 'x'], 'L')).toBe('L: expected a list of 1..2 items');
    expect(pair.problem([1, 'x'], 'L')).toBe('L[1]: expected an integer from 0 to 9');
    expect(pair.problem({ length: 1 }, 'L')).toBe('L: expected a list of 1..2 items');
  });
});

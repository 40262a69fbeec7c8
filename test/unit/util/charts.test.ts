import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  barChart,
  binValues,
  escapeXml,
  formatTick,
  histogram,
  lineChart,
  logTicks,
  niceTicks,
} from '../../../src/util/charts.js';

/** Every opened element is closed, in order (a cheap well-formedness check). */
function balanced(svg: string): boolean {
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    const [, close, name, selfClose] = m;
    if (selfClose === '/') continue;
    if (close === '/') {
      if (stack.pop() !== name) return false;
    } else stack.push(name ?? '');
  }
  return stack.length === 0;
}

describe('lineChart', () => {
  const svg = lineChart({
    title: 'Latency <p99> & friends',
    xLabel: 'time (s)',
    yLabel: 'ms',
    series: [
      {
        name: 'p50',
        points: [
          { x: 0, y: 10 },
          { x: 1, y: 12 },
          { x: 2, y: 11 },
        ],
      },
      {
        name: 'p99',
        points: [
          { x: 0, y: 40 },
          { x: 1, y: 90 },
          { x: 2, y: 45 },
        ],
        dashed: true,
        marker: 'square',
      },
    ],
    events: [{ x: 1, label: 'leader killed' }],
  });

  it('is a standalone, well-formed SVG with escaped text', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(balanced(svg)).toBe(true);
    expect(svg).toContain('Latency &lt;p99&gt; &amp; friends');
    expect(svg).not.toContain('NaN');
  });

  it('draws one path per series, markers, the legend and event lines', () => {
    expect(svg.match(/<path d="M/g)?.length).toBe(2);
    expect(svg.match(/<circle /g)?.length).toBe(3);
    expect(svg.match(/<rect x=/g)?.length).toBe(3);
    expect(svg).toContain('>p50<');
    expect(svg).toContain('>leader killed<');
    expect(svg).toContain('stroke-dasharray="6 4"');
  });

  it('supports log axes with power-of-ten ticks and is deterministic', () => {
    const opts = {
      title: 't',
      xLabel: 'n',
      yLabel: 'messages',
      xScale: 'log' as const,
      yScale: 'log' as const,
      xTicks: [3, 10, 50],
      series: [
        {
          name: 'a',
          points: [
            { x: 3, y: 9 },
            { x: 50, y: 2500 },
          ],
        },
      ],
    };
    const a = lineChart(opts);
    expect(a).toBe(lineChart(opts));
    for (const label of ['>1<', '>10<', '>100<', '>1000<', '>10k<', '>50<'])
      expect(a).toContain(label);
    expect(balanced(a)).toBe(true);
  });
});

describe('barChart and histogram', () => {
  it('draws grouped bars with values and a legend', () => {
    const svg = barChart({
      title: 'share',
      yLabel: 'tasks',
      categories: ['s1', 's2'],
      groups: [
        { name: 'run A', values: [10, 20] },
        { name: 'run B', values: [15, 5] },
      ],
      showValues: true,
    });
    expect(balanced(svg)).toBe(true);
    expect(svg.match(/<rect x=/g)?.length).toBe(4 + 2);
    expect(svg).toContain('>run B<');
    expect(svg).toContain('>20<');
  });

  it('bins every value exactly once', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 200 }),
        fc.integer({ min: 1, max: 50 }),
        (values, bins) => {
          const b = binValues(values, bins);
          expect(b).toHaveLength(bins);
          expect(b.reduce((n, x) => n + x.count, 0)).toBe(values.length);
        },
      ),
    );
    expect(binValues([0, 5e-324], 2).map((b) => b.count)).toEqual([2, 0]);
    expect(binValues([7, 7, 7], 3).map((b) => b.count)).toEqual([3, 0, 0]);
    const svg = histogram({
      title: 'latency',
      xLabel: 'ms',
      values: [1, 2, 2, 3, 10],
      bins: 5,
      events: [{ x: 3, label: 'p95' }],
    });
    expect(balanced(svg)).toBe(true);
    expect(svg).toContain('>p95<');
  });
});

describe('ticks', () => {
  it('covers the range with round, ascending steps', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -1e6, max: 1e6, noNaN: true }),
        fc.double({ min: 1e-3, max: 1e6, noNaN: true }),
        (min, span) => {
          const ticks = niceTicks(min, min + span);
          expect(ticks.length).toBeGreaterThan(0);
          expect(ticks.length).toBeLessThanOrEqual(12);
          for (let i = 1; i < ticks.length; i++)
            expect(ticks[i] as number).toBeGreaterThan(ticks[i - 1] as number);
        },
      ),
    );
    expect(niceTicks(0, 100)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(logTicks(3, 2500)).toEqual([1, 10, 100, 1000, 10000]);
    expect(formatTick(25_000)).toBe('25k');
    expect(formatTick(0.25)).toBe('0.25');
    expect(escapeXml('"a"')).toBe('&quot;a&quot;');
  });
});

describe('large inputs', () => {
  it('handles hundreds of thousands of values', () => {
    const values = Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 1000);
    expect(binValues(values, 10).reduce((n, b) => n + b.count, 0)).toBe(300_000);
    const svg = lineChart({
      title: 'many points',
      xLabel: 'x',
      yLabel: 'y',
      series: [
        { name: 's', points: values.slice(0, 200_000).map((y, x) => ({ x, y })), marker: 'none' },
      ],
    });
    expect(svg.endsWith('</svg>\n')).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import {
  injectionTimes,
  parseDuration,
  parseInjectorSpec,
  type FaultSpec,
} from '../../../src/stress/spec.js';

describe('parseDuration', () => {
  it('reads units and plain seconds', () => {
    expect(parseDuration('500ms', 'x')).toBe(500);
    expect(parseDuration('30s', 'x')).toBe(30_000);
    expect(parseDuration('2m', 'x')).toBe(120_000);
    expect(parseDuration('1.5', 'x')).toBe(1500);
    expect(parseDuration('1h', 'x')).toBe(3_600_000);
  });

  it('rejects garbage and absurd lengths with the option named', () => {
    expect(() => parseDuration('soon', '--duration')).toThrow(
      /--duration: "soon" is not a duration/,
    );
    expect(() => parseDuration('-3s', '--duration')).toThrow(/not a duration/);
    expect(() => parseDuration('25h', '--duration')).toThrow(/longer than the limit/);
  });
});

describe('parseInjectorSpec', () => {
  it('parses a repeated leader kill with a restart delay', () => {
    const spec = parseInjectorSpec('kill:target=leader,every=30s,restart-after=5s') as FaultSpec;
    expect(spec).toMatchObject({
      kind: 'kill',
      name: 'kill-leader',
      target: 'leader',
      first_ms: 30_000,
      every_ms: 30_000,
      count: null,
      duration_ms: 5000,
    });
  });

  it('parses one-shot pauses and partitions with their durations and scope', () => {
    expect(parseInjectorSpec('pause:target=2,at=10s,for=3s')).toMatchObject({
      kind: 'pause',
      name: 'pause-server2',
      target: 2,
      first_ms: 10_000,
      every_ms: null,
      count: 1,
      duration_ms: 3000,
    });
    expect(parseInjectorSpec('partition:at=20s,for=20s,scope=all')).toMatchObject({
      kind: 'partition',
      target: 'random',
      duration_ms: 20_000,
      scope: 'all',
    });
    expect(parseInjectorSpec('kill:at=5s,restart-after=never')).toMatchObject({
      duration_ms: null,
    });
  });

  it('parses the failure simulation with defaults of the course rule', () => {
    expect(parseInjectorSpec('failure-sim')).toEqual({
      kind: 'failure-sim',
      name: 'failure-sim',
      interval_ms: 30_000,
      max_silence_ms: 20_000,
    });
    expect(parseInjectorSpec('failure-sim:interval=10s,max-silence=4s')).toMatchObject({
      interval_ms: 10_000,
      max_silence_ms: 4000,
    });
  });

  it('explains every mistake', () => {
    expect(() => parseInjectorSpec('explode:at=1s')).toThrow(/unknown failure kind "explode"/);
    expect(() => parseInjectorSpec('kill:target=leader')).toThrow(/say when/);
    expect(() => parseInjectorSpec('kill:at=1s,every=2s')).toThrow(/either at=/);
    expect(() => parseInjectorSpec('kill:every=100ms')).toThrow(/at least 1s/);
    expect(() => parseInjectorSpec('kill:at=1s,target=boss')).toThrow(/target must be leader/);
    expect(() => parseInjectorSpec('kill:at=1s,for=3s')).toThrow(/unknown key for/);
    expect(() => parseInjectorSpec('pause:at=1s,scope=all')).toThrow(/scope applies to partition/);
    expect(() => parseInjectorSpec('kill:at=1s,at=2s')).toThrow(/given twice/);
    expect(() => parseInjectorSpec('kill:at')).toThrow(/expected key=value/);
    expect(() => parseInjectorSpec(`kill:${'x'.repeat(400)}`)).toThrow(/longer than 300/);
  });
});

describe('injectionTimes', () => {
  it('repeats until the horizon or the count', () => {
    const every = parseInjectorSpec('kill:every=30s') as FaultSpec;
    expect(injectionTimes(every, 100_000)).toEqual([30_000, 60_000, 90_000]);
    const counted = parseInjectorSpec('kill:every=10s,first=5s,count=2') as FaultSpec;
    expect(injectionTimes(counted, 100_000)).toEqual([5000, 15_000]);
    const once = parseInjectorSpec('pause:at=20s') as FaultSpec;
    expect(injectionTimes(once, 100_000)).toEqual([20_000]);
    expect(injectionTimes(once, 10_000)).toEqual([]);
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { mulberry32, parsePrometheus } from '../../../src/stress/campaign.js';
import { defaultImagePaths, loadImageSet } from '../../../src/stress/images.js';

describe('parsePrometheus', () => {
  it('sums every cloudp2p sample over its labels and skips histogram buckets', () => {
    const text = [
      '# HELP cloudp2p_tasks_completed_total Tasks completed',
      'cloudp2p_tasks_completed_total 120',
      'cloudp2p_tasks_failed_total{reason="busy"} 2',
      'cloudp2p_tasks_failed_total{reason="bad_input"} 3',
      'cloudp2p_task_duration_seconds_bucket{le="0.1"} 50',
      'cloudp2p_task_duration_seconds_count 120',
      'process_cpu_seconds_total 4',
      'garbage line',
    ].join('\n');
    expect(parsePrometheus(text)).toEqual({
      cloudp2p_tasks_completed_total: 120,
      cloudp2p_tasks_failed_total: 5,
      cloudp2p_task_duration_seconds_count: 120,
    });
  });
});

describe('mulberry32', () => {
  it('replays the same targets for the same seed', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const first = [a(), a(), a()];
    expect([b(), b(), b()]).toEqual(first);
    expect(first.every((v) => v >= 0 && v < 1)).toBe(true);
    expect(mulberry32(43)()).not.toBe(first[0]);
  });
});

describe('loadImageSet', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('loads the shipped samples with their payloads', () => {
    const images = loadImageSet(defaultImagePaths());
    expect(images.length).toBeGreaterThanOrEqual(5);
    expect(images.map((i) => i.name)).toContain('photo.jpg');
    for (const image of images) expect(image.payload.length).toBeGreaterThan(image.bytes.length);
  });

  it('names the file that is not an image, and the folder without images', () => {
    dir = mkdtempSync(join(tmpdir(), 'cp2p-images-'));
    writeFileSync(join(dir, 'notes.txt'), 'hello');
    expect(() => loadImageSet([dir])).toThrow(/holds no \.png, \.jpg or \.jpeg file/);
    writeFileSync(join(dir, 'fake.png'), 'not a png at all');
    expect(() => loadImageSet([join(dir, 'fake.png')])).toThrow(/fake\.png/);
    expect(() => loadImageSet([join(dir, 'missing.png')])).toThrow(/cannot read image path/);
  });
});

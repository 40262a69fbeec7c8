/**
 * Scenario scripts in ./scenarios with their expected traces. After an intended behaviour
 * change, regenerate with `UPDATE_SCENARIOS=1 npx vitest run test/sim/scenarios.test.ts`
 * (or `npm run sim -- scenario test/sim/scenarios/*.txt --update`) and review the diff.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatScenario, parseScenario, runScenario } from '../../src/sim/scenario.js';

const dir = join(import.meta.dirname, 'scenarios');
const files = readdirSync(dir).filter((f) => f.endsWith('.txt'));

describe('scenario scripts', () => {
  it('has the stories the issue asks for', () => {
    for (const name of [
      'leader-dies-mid-burst',
      'leader-dies-and-comes-back',
      'partition-2-1-heal',
      'successor-list-stale',
      'two-simultaneous-elections',
    ]) {
      expect(files).toContain(`${name}.txt`);
    }
  });

  for (const file of files) {
    it(file, () => {
      const path = join(dir, file);
      const { blocks, outputs } = runScenario(readFileSync(path, 'utf8'));
      if (process.env['UPDATE_SCENARIOS'] === '1')
        writeFileSync(path, formatScenario(blocks, outputs));
      blocks.forEach((b, k) => {
        expect(outputs[k], `${file}:${b.line} ${b.command}`).toBe(b.expected);
      });
      // Every story ends with an invariant check that passes.
      expect(blocks.at(-1)?.command).toBe('check');
      expect(outputs.at(-1)).toBe('ok');
    });
  }
});

describe('scenario format', () => {
  it('round-trips comments, commands and outputs', () => {
    const text =
      '# a story\n\n# more\ncluster nodes=3\n----\nok\n\nrun 10\n----\n  5ms s1 did\n  6ms s2 did\n';
    const blocks = parseScenario(text);
    expect(blocks.map((b) => b.command)).toEqual(['cluster nodes=3', 'run 10']);
    expect(
      formatScenario(
        blocks,
        blocks.map((b) => b.expected),
      ),
    ).toBe(text);
  });

  it('reports bad scripts and unknown commands clearly', () => {
    expect(() => parseScenario('run 10\nok\n')).toThrow(/expected ----/);
    expect(runScenario('run 10\n----\n').outputs[0]).toMatch(/needs a cluster first/);
    expect(runScenario('cluster\n----\n\nfly 3\n----\n').outputs[1]).toMatch(
      /unknown command "fly"/,
    );
  });
});

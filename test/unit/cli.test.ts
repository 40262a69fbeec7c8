import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { ExitCode } from '../../src/util/errors.js';

describe('cloudp2p CLI', () => {
  it('exits 0 for --version', async () => {
    expect(await main(['--version'])).toBe(ExitCode.ok);
  });

  it('exits with the usage code for an unknown option', async () => {
    expect(await main(['--no-such-flag'])).toBe(ExitCode.usage);
  });
});

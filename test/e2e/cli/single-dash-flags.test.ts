import { describe, expect, it } from 'vitest';
import { normalizeFlags, type FlagSpellings } from '../../../src/cli/go-flag-spellings.js';
import { runCli } from '../../helpers/spawn-server.js';

/**
 * Go's flag package takes `-flag=value` with one dash; pflag, and this CLI, read it as short
 * options, so it is an unknown option, and commander's error echoed it whole:
 * `unknown option '-file-signer-passwd=…'`, the password in it.
 */
const SECRET = 'PLANTED_S3CRET_42';

describe('a single-dash -flag=value', () => {
  it.each([
    ['after serve', ['serve', `-file-signer-passwd=${SECRET}`]],
    ['before serve', [`-file-signer-passwd=${SECRET}`, 'serve']],
  ])('%s: named without its value', async (_where, args) => {
    const run = runCli([...args, '--print-config']);
    expect(await run.exited).toBe(2);
    expect(run.stderr()).toContain("error: unknown option '-file-signer-passwd'\n");
    expect(run.stderr() + run.stdout()).not.toContain(SECRET);
  });

  it('is cut at its "=" by the normaliser; a value, and what follows --, are not', () => {
    const spellings: FlagSpellings = {
      known: new Set(['log-type']),
      valued: new Set(['log-type']),
      booleans: new Set(),
      aliases: new Map(),
    };
    expect(
      normalizeFlags(
        [
          '-x=1',
          'serve',
          `-tink-hcvault-token=${SECRET}`,
          '-h',
          '--log-type',
          '-a=b',
          '--',
          '-y=2',
        ],
        spellings,
      ),
    ).toEqual(['-x', 'serve', '-tink-hcvault-token', '-h', '--log-type', '-a=b', '--', '-y=2']);
  });
});

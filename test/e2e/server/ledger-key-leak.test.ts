import { describe, expect, it } from 'vitest';
import {
  fatalMessages,
  REPO_ROOT,
  runCli,
  SERVE_ON_EPHEMERAL_PORTS,
} from '../../helpers/spawn-server.js';

/**
 * --ledger-key is a secret option: a `pkcs11:` URI may carry pin-value. One with a quote or a space
 * before it (Docker's --env-file keeps quotes) missed the PKCS#11 check, was read as a file path
 * and quoted whole in `reading --ledger-key "…pin-value=…": ENOENT`. No value is quoted now.
 */
const SECRET = 'PLANTED_S3CRET_42';
const URI = `pkcs11:token=tsa;object=log?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=${SECRET}`;

/** Starts serve with LEDGER_KEY; the key is read before the database is reached (port 1). */
async function startWithLedgerKey(ledgerKey: string) {
  const run = runCli(
    [
      ...SERVE_ON_EPHEMERAL_PORTS,
      '--ledger-url',
      'postgres://tsa@127.0.0.1:1/tsa',
      '--ledger-origin',
      'tsa.test/log',
    ],
    { LEDGER_KEY: ledgerKey, HOME: `${REPO_ROOT}test/fixtures-none` },
  );
  const code = await run.exited;
  return { code, fatal: fatalMessages(run.stdout()), output: run.stdout() + run.stderr() };
}

describe('--ledger-key in start-up errors', () => {
  it.each([
    ['quoted', `"${URI}"`],
    ['after a space', ` ${URI}`],
  ])('a pkcs11: URI %s: refused as one, never quoted', async (_how, value) => {
    const failed = await startWithLedgerKey(value);
    expect(failed.code).toBe(1);
    expect(failed.output).not.toContain(SECRET);
    expect(failed.fatal).toEqual([
      'cannot start: --ledger-key holds a PKCS#11 URI that does not start with pkcs11: (quotes or spaces around it?); it is not shown: it may hold a PIN',
    ]);
  });

  it('a file that cannot be read: its name is not quoted either', async () => {
    const failed = await startWithLedgerKey(`/nonexistent/${SECRET}/log.pem`);
    expect(failed.code).toBe(1);
    expect(failed.output).not.toContain(SECRET);
    expect(failed.fatal).toEqual([
      'cannot start: reading --ledger-key (the file it names): ENOENT',
    ]);
  });
});

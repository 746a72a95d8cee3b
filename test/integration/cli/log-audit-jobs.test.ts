import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatEntryBundle } from '../../../src/tlog/index.js';
import { parseTimestampResponse } from '../../../src/verify/parse-response.js';
import { encodePem } from '../../../src/x509/pem.js';
import { runCli } from '../../helpers/cli.js';
import { auditServedLog } from '../../helpers/log-audit.js';
import { logAuditCommand } from '../../../src/cli/timestamp-cli/log-audit-command.js';
import type { Output } from '../../../src/cli/timestamp-cli/output.js';
import { startLogServer } from '../../helpers/log-server.js';
import { TestLog } from '../../helpers/tlog-log.js';
import { acceptedRequest, encoderFor, makePki, type Pki } from '../../helpers/pki.js';

/**
 * log-audit --jobs: the tokens checked on worker threads must establish and report what the
 * audit on the main thread alone (--jobs 1) does, down to the first failing entry and its message,
 * whatever the threads' order of answering. The in-process audits here load the worker from the
 * TS source (through tsx); the last describe runs the built CLI (dist/), as users do.
 */

const AT = new Date('2025-03-04T05:06:07Z');
let dir: string;
let pki: Pki;
/** 300 tokens (two entry bundles), every seventh without certReq */
let tokens: Buffer[];
/** one log key for every log: reports compared whole name it */
let logKey: KeyObject;

/** A token of `pki`'s leaf with `serial`: the leaf embedded when `certReq`. */
async function token(serial: number, certReq = true): Promise<Buffer> {
  const encoder = encoderFor(pki.leaf.signer, [pki.leaf.der], false);
  const response = await encoder.encode({
    request: acceptedRequest({ artifact: Buffer.from(`artifact ${serial}`), certReq }),
    serialNumber: Buffer.from(serial.toString(16).padStart(8, '0'), 'hex'),
    genTime: AT,
  });
  return parseTimestampResponse(response).timestamp.tokenDer;
}

/** `good` with its genTime a year later: its messageDigest attribute no longer matches. */
function tampered(good: Buffer): Buffer {
  const altered = Buffer.from(good);
  const at = altered.indexOf('20250304050607Z');
  altered[at + 3] = 0x36;
  return altered;
}

/** Audits a log of `entries` signed with the one `logKey`: see auditServedLog. */
const audit = (
  entries: Uint8Array[],
  args: string[],
  options: { format?: 'default' | 'json'; serve?: Record<string, Uint8Array> } = {},
): Promise<string> => auditServedLog(entries, args, { ...options, logKey });

/** The audit's outcome with each of `jobs`, which must all be the same: that outcome. */
async function sameWithJobs(
  entries: Uint8Array[],
  args: string[],
  jobs: number[] = [1, 2, 3],
  options: Parameters<typeof audit>[2] = {},
): Promise<string> {
  const outcomes: string[] = [];
  for (const n of jobs)
    outcomes.push(await audit(entries, [...args, '--jobs', String(n)], options));
  for (const [i, outcome] of outcomes.entries())
    expect(outcome, `--jobs ${jobs[i]} as --jobs ${jobs[0]}`).toBe(outcomes[0]);
  return outcomes[0]!;
}

beforeAll(async () => {
  pki = await makePki({}, AT);
  logKey = generateKeyPairSync('ed25519').privateKey;
  dir = await mkdtemp(join(tmpdir(), 'log-audit-jobs-'));
  tokens = [];
  for (let i = 0; i < 300; i++) tokens.push(await token(0x1000 + i, i % 7 !== 3));
  await writeFile(
    join(dir, 'leaf-chain.pem'),
    encodePem('CERTIFICATE', pki.leaf.der) + pki.chainPem,
  );
  // Go's --certificate-chain: no TSA certificate, so a token without certReq cannot be checked.
  await writeFile(join(dir, 'go-chain.pem'), pki.chainPem);
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

describe('log-audit --jobs on a valid log', () => {
  it('reports what --jobs 1 reports, without and with --chain (300 entries, two bundles)', async () => {
    const json = JSON.parse(await sameWithJobs(tokens, [], [1, 2, 3], { format: 'json' }));
    // 43 of the 300 embed no certificate: counted on the threads as on the main thread.
    expect(json).toMatchObject({ size: 300, tokensChecked: 'signature', tokensUnchecked: 43 });
    const chain = ['--chain', join(dir, 'leaf-chain.pem')];
    expect(await sameWithJobs(tokens, chain)).toContain(
      '300 tokens valid (signed under the given chain), serial numbers unique',
    );
  });

  it('audits a log of one entry and an empty log with more threads than entries', async () => {
    expect(await sameWithJobs(tokens.slice(0, 1), [], [1, 3, 8])).toContain(
      'log tsa.example.com/log: 1 entries',
    );
    const empty = await sameWithJobs([], ['--chain', join(dir, 'leaf-chain.pem')], [1, 3]);
    expect(empty).toContain('log tsa.example.com/log: 0 entries');
    expect(empty).toContain('0 tokens valid');
  });
});

describe('log-audit --jobs reports the first failing entry, as --jobs 1 does', () => {
  it('a tampered token after valid ones, a second bad one after it', async () => {
    const entries = [...tokens.slice(0, 40)];
    entries[17] = tampered(entries[17]!);
    entries[33] = Buffer.from('not a token');
    expect(await sameWithJobs(entries, [])).toMatch(
      /^FAILED: entry 17 is not a valid token of this TSA: .*messageDigest attribute does not match/,
    );
    // The first bad one in the second bundle, the other later in it.
    const long = [...tokens];
    long[270] = Buffer.from('not a token');
    long[290] = tampered(long[290]!);
    expect(await sameWithJobs(long, [], [1, 3])).toMatch(
      /^FAILED: entry 270 is not a valid token of this TSA: error parsing response/,
    );
  });

  it('a token whose signer certificate is in neither the token nor --chain', async () => {
    // Tokens 3, 10, 17 … embed no certificate: the first of them fails under Go's chain.
    expect(await sameWithJobs(tokens.slice(0, 40), ['--chain', join(dir, 'go-chain.pem')])).toMatch(
      /^FAILED: entry 3: its signer certificate \(issuer ".*", serial [0-9a-f]+\) is in neither the token nor --chain: put the TSA certificate in the --chain file$/,
    );
  });

  it('a serial number repeated across batches (and threads)', async () => {
    // 40 entries on 3 threads go out in batches of 7: entries 3 and 36 are five batches apart.
    const entries = [...tokens.slice(0, 40)];
    entries[36] = entries[3]!;
    entries[38] = entries[4]!;
    expect(await sameWithJobs(entries, [])).toBe(
      'FAILED: entries 3 and 36 have the same serial number 0x1003',
    );
  });

  it('a bad token before an entry the tree does not hold, and after it', async () => {
    // The served bundle has entries 20 and 21 swapped: its leaves are not the tree's.
    const swapped = (entries: Buffer[]) => {
      const served = [...entries];
      [served[20], served[21]] = [served[21]!, served[20]!];
      return { 'tile/entries/000.p/40': formatEntryBundle(served) };
    };
    const early = [...tokens.slice(0, 40)];
    early[5] = tampered(early[5]!);
    // The threads' check of entry 5 lags the main thread's leaf match at 20: the token fails first.
    expect(await sameWithJobs(early, [], [1, 2, 3], { serve: swapped(early) })).toMatch(
      /^FAILED: entry 5 is not a valid token of this TSA: /,
    );
    const late = [...tokens.slice(0, 40)];
    late[25] = tampered(late[25]!);
    expect(await sameWithJobs(late, [], [1, 2, 3], { serve: swapped(late) })).toBe(
      "FAILED: entry 20 is not the entry the checkpoint's tree holds",
    );
  });
});

describe('log-audit --jobs refuses', () => {
  it.each(['0', '257', 'abc', '1.5', '2e1', '0x2', '+2', ' 2', ''])(
    '--jobs "%s"',
    async (value) => {
      const output: Output = { stdout: () => undefined, stderr: () => undefined };
      const command = logAuditCommand(
        () => ({ timestampServer: 'http://127.0.0.1:9', format: 'default', timeout: 30_000 }),
        output,
      )
        .exitOverride()
        .configureOutput({ writeErr: () => undefined });
      await expect(
        command.parseAsync(['http://127.0.0.1:9', '--jobs', value], { from: 'user' }),
      ).rejects.toMatchObject({
        code: 'commander.invalidArgument',
        message: `error: option '--jobs <n>' argument '${value}' is invalid. "${value}" is not a whole number from 1 to 256`,
      });
    },
  );
});

describe('the built timestamp-cli log-audit (dist/, its worker module beside it)', () => {
  /** The CLI's exit status and output auditing a log of `entries` with `args`. */
  async function cli(entries: Uint8Array[], args: string[]) {
    const log = new TestLog('tsa.example.com/log', logKey);
    await log.append(...entries);
    await log.publish();
    const server = await startLogServer(log);
    try {
      // The run ends only once the process exits: with its worker threads still running, it
      // would not (the test's hang guard would end it).
      return await runCli(['log-audit', server.url, '--log-key', log.vkey, ...args]);
    } finally {
      await server.close();
    }
  }

  it('reports as with --jobs 1, fails at the same entry, and exits either way', async () => {
    const valid = await cli(tokens, ['--jobs', '2']);
    expect(valid).toMatchObject({ code: 0, stderr: '' });
    expect(valid.stdout).toBe((await cli(tokens, ['--jobs', '1'])).stdout);
    expect(valid.stdout).toContain('257 tokens valid');

    const entries = [...tokens.slice(0, 60)];
    entries[41] = tampered(entries[41]!);
    entries[50] = Buffer.from('not a token');
    const failed = await cli(entries, ['--jobs', '3']);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toBe((await cli(entries, ['--jobs', '1'])).stderr);
    expect(failed.stderr).toMatch(/^entry 41 is not a valid token of this TSA: /);
  });
});

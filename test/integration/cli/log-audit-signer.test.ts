import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTimestampResponse } from '../../../src/verify/parse-response.js';
import { encodePem } from '../../../src/x509/pem.js';
import { auditServedLog } from '../../helpers/log-audit.js';
import { logAuditCommand } from '../../../src/cli/timestamp-cli/log-audit-command.js';
import { startLogServer } from '../../helpers/log-server.js';
import { TestLog } from '../../helpers/tlog-log.js';
import { acceptedRequest, encoderFor, makePki, type Pki } from '../../helpers/pki.js';

/**
 * log-audit finds each token's signer certificate by its SignerInfo's sid, among the token's
 * certificates and the --chain's: the ledger records tokens as sent, and a token requested
 * without certReq (openssl ts -query's default) embeds no certificate (RFC 3161 section 2.4.1).
 */

const AT = new Date('2025-03-04T05:06:07Z');
let dir: string;
let pki: Pki;

/** A token of `pki`'s leaf: with the leaf embedded when `certReq`. */
async function token(serial: number, certReq: boolean, from = pki): Promise<Buffer> {
  const encoder = encoderFor(from.leaf.signer, [from.leaf.der], false);
  const response = await encoder.encode({
    request: acceptedRequest({ artifact: Buffer.from(`artifact ${serial}`), certReq }),
    serialNumber: Buffer.from([serial]),
    genTime: AT,
  });
  return parseTimestampResponse(response).timestamp.tokenDer;
}

/** Audits a log of `entries`: its stdout, or FAILED and the error's message. */
const audit = (entries: Buffer[], args: string[], format: 'default' | 'json' = 'default') =>
  auditServedLog(entries, args, { format });

beforeAll(async () => {
  pki = await makePki({}, AT);
  dir = await mkdtemp(join(tmpdir(), 'log-audit-signer-'));
  // Go's --certificate-chain: intermediate and root, the TSA certificate not in it.
  await writeFile(join(dir, 'go-chain.pem'), pki.chainPem);
  await writeFile(
    join(dir, 'leaf-chain.pem'),
    encodePem('CERTIFICATE', pki.leaf.der) + pki.chainPem,
  );
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

describe('log-audit of tokens issued without certReq', () => {
  it('with --chain holding the TSA certificate, checks them all (the leaf first or not)', async () => {
    const entries = [await token(1, false), await token(2, true), await token(3, false)];
    const valid = '3 tokens valid (signed under the given chain), serial numbers unique';
    expect(await audit(entries, ['--chain', join(dir, 'leaf-chain.pem')])).toContain(valid);
    // The TSA certificate between the intermediate and the root: found by the sid, not its place.
    const pem = (der: Buffer) => encodePem('CERTIFICATE', der);
    await writeFile(
      join(dir, 'leaf-inside.pem'),
      pem(pki.intermediate.der) + pem(pki.leaf.der) + pem(pki.root.der),
    );
    expect(await audit(entries, ['--chain', join(dir, 'leaf-inside.pem')])).toContain(valid);
  });

  it("with Go's chain (no TSA certificate), checks the tokens that embed it and refuses the others by name", async () => {
    expect(await audit([await token(2, true)], ['--chain', join(dir, 'go-chain.pem')])).toContain(
      '1 tokens valid (signed under the given chain)',
    );
    expect(
      await audit(
        [await token(2, true), await token(3, false)],
        ['--chain', join(dir, 'go-chain.pem')],
      ),
    ).toMatch(
      /^FAILED: entry 1: its signer certificate \(issuer ".*", serial [0-9a-f]+\) is in neither the token nor --chain: put the TSA certificate in the --chain file$/,
    );
  });

  it('without --chain, says which tokens cannot be checked without it, and still fails a tampered one', async () => {
    const entries = [await token(1, false), await token(2, true), await token(3, false)];
    const stdout = await audit(entries, []);
    expect(stdout).toContain(
      '1 tokens valid (signature by the embedded certificate only: pass --chain to check the TSA), serial numbers unique',
    );
    expect(stdout).toContain(
      '2 tokens cannot be checked without --chain: they embed no signer certificate (requested without certReq)',
    );
    expect(JSON.parse(await audit(entries, [], 'json'))).toMatchObject({
      size: 3,
      tokensChecked: 'signature',
      tokensUnchecked: 2,
    });
    // Its TSTInfo altered (genTime a year later): the messageDigest attribute is still checked.
    const altered = Buffer.from(await token(5, false));
    const at = altered.indexOf('20250304050607Z');
    altered[at + 3] = 0x36;
    expect(await audit([altered], [])).toMatch(
      /^FAILED: entry 0 is not a valid token of this TSA: .*messageDigest attribute does not match/,
    );
    // A token of another TSA, without certificate, under the chain: refused, not skipped.
    const foreign = await token(4, false, await makePki({}, AT));
    expect(await audit([foreign], ['--chain', join(dir, 'leaf-chain.pem')])).toMatch(
      /^FAILED: entry 0: its signer certificate .* is in neither the token nor --chain/,
    );
  });
});

describe('log-audit reading its files', () => {
  it('stops reading --chain and --checkpoint at 1 MiB, naming the flag and the file', async () => {
    const entries = [await token(1, true)];
    for (const flag of ['--chain', '--checkpoint'])
      expect(await audit(entries, [flag, '/dev/zero'])).toBe(
        `FAILED: error reading ${flag} /dev/zero: the file is larger than 1048576 bytes (1 MiB), the most accepted`,
      );
  });
});

describe("log-audit's report", () => {
  it("escapes control characters of the log's origin and key (the server's words)", async () => {
    // A note refuses C0 controls, not C1 ones (U+009B is a CSI to some terminals).
    const log = new TestLog('tsa\u009b1m.example/log');
    await log.append(await token(1, true));
    await log.publish();
    const server = await startLogServer(log);
    try {
      for (const format of ['default', 'json'] as const) {
        let stdout = '';
        await logAuditCommand(() => ({ timestampServer: server.url, format, timeout: 30_000 }), {
          stdout: (text) => (stdout += text),
          stderr: () => undefined,
        })
          .exitOverride()
          .parseAsync([server.url], { from: 'user' });
        // eslint-disable-next-line no-control-regex
        expect(stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
        if (format === 'default') expect(stdout).toContain('log tsa\\x9b1m.example/log: 1 entries');
        else expect(JSON.parse(stdout)).toMatchObject({ origin: 'tsa\u009b1m.example/log' });
      }
    } finally {
      await server.close();
    }
  });
});

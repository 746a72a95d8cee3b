import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Command } from 'commander';
import { inspectCommand } from '../../../src/cli/timestamp-cli/inspect-command.js';
import { CliError, type Output } from '../../../src/cli/timestamp-cli/output.js';
import type { GlobalOptions } from '../../../src/cli/timestamp-cli/timestamp-command.js';
import { verifyCommand } from '../../../src/cli/timestamp-cli/verify-command.js';
import { parseTimestampResponse } from '../../../src/verify/parse-response.js';
import { openssl, tempDir } from '../../helpers/openssl.js';
import { issueToken, makePki, type Pki } from '../../helpers/pki.js';

/**
 * A bare TimeStampToken (the CMS ContentInfo of `openssl ts -reply -token_out`, or a log entry)
 * given to inspect or verify --timestamp is read as openssl's -token_in reads one: the token of a
 * response, without a status of its own (shown as none; JSON status null).
 */
const dir = tempDir();
afterAll(() => dir.cleanup());

let pki: Pki;
let response: string;
let token: string;
let chain: string;
let artifact: string;

beforeAll(async () => {
  pki = await makePki();
  const tsr = await issueToken(pki, { artifact: Buffer.from('bare token') });
  response = dir.write('response.tsr', tsr);
  token = dir.write('token.tst', parseTimestampResponse(tsr).timestamp.tokenDer);
  chain = dir.write('chain.pem', pki.chainPem);
  artifact = dir.write('artifact', 'bare token');
});

type Make = (globals: () => GlobalOptions, output: Output) => Command;

/** The command's standard output, or its error. */
async function run(
  make: Make,
  args: string[],
  format: 'default' | 'json' = 'default',
): Promise<string> {
  let stdout = '';
  const command = make(() => ({ timestampServer: 'http://127.0.0.1', format, timeout: 0 }), {
    stdout: (text) => (stdout += text),
    stderr: () => {},
  }).exitOverride();
  await command.parseAsync(args, { from: 'user' });
  return stdout;
}

describe('inspect of a bare TimeStampToken', () => {
  it('shows the token, with no status, as it shows the response that carried it', async () => {
    const ofResponse = await run(inspectCommand, ['--timestamp', response]);
    const ofToken = await run(inspectCommand, ['--timestamp', token]);
    expect(ofResponse).toContain('Status:            granted\n');
    expect(ofToken).toBe(
      ofResponse.replace(
        'Status:            granted\n',
        'Status:            (none: a bare TimeStampToken, not a TimeStampResp)\n',
      ),
    );
  });

  it('gives status null in JSON, the rest as for the response', async () => {
    const ofResponse = JSON.parse(await run(inspectCommand, ['--timestamp', response], 'json'));
    const ofToken = JSON.parse(await run(inspectCommand, ['--timestamp', token], 'json'));
    expect(ofResponse.TimestampResponse.status).toBe('granted');
    expect(ofToken).toEqual({
      ...ofResponse,
      TimestampResponse: { ...ofResponse.TimestampResponse, status: null },
    });
  });
});

describe('verify of a bare TimeStampToken', () => {
  it('verifies it as the token of a response (openssl’s -token_in)', async () => {
    expect(
      await run(verifyCommand, [
        '--artifact',
        artifact,
        '--timestamp',
        token,
        '--certificate-chain',
        chain,
      ]),
    ).toBe(`Successfully verified timestamp ${token}\n`);
    const json = JSON.parse(
      await run(
        verifyCommand,
        ['--artifact', artifact, '--timestamp', token, '--certificate-chain', chain],
        'json',
      ),
    );
    expect(json.ParsedTimestamp.status).toBe(null);
  });

  it('verifies the token openssl ts -reply -token_out writes', async () => {
    const fromOpenssl = dir.path('openssl.tst');
    await openssl(['ts', '-reply', '-in', response, '-token_out', '-out', fromOpenssl]);
    expect(
      await run(verifyCommand, [
        '--artifact',
        artifact,
        '--timestamp',
        fromOpenssl,
        '--certificate-chain',
        chain,
      ]),
    ).toBe(`Successfully verified timestamp ${fromOpenssl}\n`);
  });

  it('checks it as it checks a response: another artifact fails', async () => {
    const error = await run(verifyCommand, [
      '--artifact',
      dir.write('other', 'another artifact'),
      '--timestamp',
      token,
      '--certificate-chain',
      chain,
    ]).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).code).toBe('VERIFICATION_FAILED');
    expect((error as CliError).message).toMatch(/^failed to verify timestamp: /);
  });

  it('still refuses what is neither a response nor a token', async () => {
    const error = await run(inspectCommand, [
      '--timestamp',
      dir.write('sequence.der', Buffer.from([0x30, 0x03, 0x02, 0x01, 0x00])),
    ]).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).message).toMatch(/^timestamp response is not valid: /);
  });
});

describe('a --timestamp file of text, where DER is expected', () => {
  it.each([
    [
      'PEM',
      () =>
        `-----BEGIN PKCS7-----\n${readFileSync(response).toString('base64')}\n-----END PKCS7-----\n`,
    ],
    ['base64', () => `${readFileSync(response).toString('base64')}\n`],
  ])(
    '%s is named as such by inspect and verify, not as trailing data after a response',
    async (kind, text) => {
      const path = dir.write(`response.${kind}`, text());
      for (const [make, args] of [
        [inspectCommand, ['--timestamp', path]],
        [
          verifyCommand,
          ['--artifact', artifact, '--timestamp', path, '--certificate-chain', chain],
        ],
      ] as const) {
        const error = await run(make, [...args]).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(CliError);
        expect((error as CliError).message).toBe(
          `error parsing response into Timestamp: the --timestamp file is ${kind} text, where DER is expected: decode it first (base64 -d)`,
        );
      }
    },
  );
});

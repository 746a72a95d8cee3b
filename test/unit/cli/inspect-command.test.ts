import { describe, expect, it } from 'vitest';
import { inspectCommand } from '../../../src/cli/timestamp-cli/inspect-command.js';
import { verifyCommand } from '../../../src/cli/timestamp-cli/verify-command.js';
import { CliError } from '../../../src/cli/timestamp-cli/output.js';
import { tempDir } from '../../helpers/openssl.js';
import { issueToken, makePki } from '../../helpers/pki.js';

async function inspect(path: string): Promise<unknown> {
  const command = inspectCommand(
    () => ({ timestampServer: 'http://127.0.0.1', format: 'default', timeout: 0 }),
    { stdout: () => {}, stderr: () => {} },
  ).exitOverride();
  try {
    await command.parseAsync(['--timestamp', path], { from: 'user' });
  } catch (error) {
    return error;
  }
  throw new Error('inspect unexpectedly succeeded');
}

describe('timestamp-cli inspect on hostile files', () => {
  it('refuses a file over 1 MiB without reading it whole', async () => {
    const dir = tempDir();
    try {
      const path = dir.write('big.tsr', Buffer.alloc((1 << 20) + 1, 0x30));
      const error = await inspect(path);
      expect(error).toBeInstanceOf(CliError);
      expect((error as CliError).code).toBe('FILE');
      expect((error as CliError).message).toBe(
        `error reading --timestamp ${path}: the file is larger than 1048576 bytes (1 MiB), the most accepted`,
      );
    } finally {
      dir.cleanup();
    }
  });

  it('stops reading an endless device (/dev/zero) at the cap', async () => {
    const error = await inspect('/dev/zero');
    expect((error as CliError).message).toMatch(
      /^error reading --timestamp \/dev\/zero: the file is larger/,
    );
  });

  it('reports garbage as an invalid response, not a crash', async () => {
    const dir = tempDir();
    try {
      const error = await inspect(dir.write('garbage.tsr', Buffer.from([0x30, 0x84, 0xff])));
      expect(error).toBeInstanceOf(CliError);
      expect((error as CliError).code).toBe('INVALID_RESPONSE');
    } finally {
      dir.cleanup();
    }
  });
});

describe('timestamp-cli inspect of a token whose signature does not verify', () => {
  it.each(['default', 'json'] as const)(
    'shows it (%s output), then fails with VERIFICATION_FAILED, as Go’s inspect fails',
    async (format) => {
      const pki = await makePki();
      const dir = tempDir();
      try {
        const response = await issueToken(pki, { artifact: Buffer.from('a') });
        response[response.length - 1]! ^= 1; // the last octet of the signature
        let stdout = '';
        const error = await inspectCommand(
          () => ({ timestampServer: 'http://127.0.0.1', format, timeout: 0 }),
          { stdout: (text) => (stdout += text), stderr: () => {} },
        )
          .exitOverride()
          .parseAsync(['--timestamp', dir.write('forged.tsr', response)], { from: 'user' })
          .then(
            () => undefined,
            (failure: unknown) => failure,
          );
        expect(stdout).toContain('INVALID: ');
        expect(error).toBeInstanceOf(CliError);
        expect((error as CliError).code).toBe('VERIFICATION_FAILED');
        expect((error as CliError).message).toMatch(
          /^the token's signature does not verify with its embedded signer certificate: /,
        );
      } finally {
        dir.cleanup();
      }
    },
  );
});

describe('timestamp-cli inspect of a token whose names hold control characters', () => {
  // Anyone's own PKI may name itself so: a screen clear, a colour, a window title, a C1 CSI.
  const LEAF = 'TSA\x1b[2J\x1b[31m\u009b1m';
  const INTERMEDIATE = 'Interm\x1b]0;owned\x07\x7f';
  const AT = new Date('2025-05-06T07:08:09Z');

  /** The stdout of `inspect` (or `verify`, which checks the token under its chain) of the token. */
  async function inspected(format: 'default' | 'json', command = inspectCommand): Promise<string> {
    const pki = await makePki(
      {
        intermediate: { subject: { organization: 'test', commonName: INTERMEDIATE } },
        leaf: { subject: { organization: 'test', commonName: LEAF } },
      },
      AT,
    );
    const dir = tempDir();
    try {
      const path = dir.write(
        'escape.tsr',
        await issueToken(pki, { artifact: Buffer.from('a'), genTime: AT }),
      );
      const verifyArgs = ['--artifact', dir.write('a', 'a'), '--certificate-chain'];
      let stdout = '';
      await command(() => ({ timestampServer: 'http://127.0.0.1', format, timeout: 0 }), {
        stdout: (text) => (stdout += text),
        stderr: () => {},
      })
        .exitOverride()
        .parseAsync(
          [
            '--timestamp',
            path,
            ...(command === verifyCommand
              ? [...verifyArgs, dir.write('chain.pem', pki.chainPem)]
              : []),
          ],
          { from: 'user' },
        );
      return stdout;
    } finally {
      dir.cleanup();
    }
  }

  it('prints them escaped as \\xNN, in every line that shows a name', async () => {
    const text = await inspected('default');
    // No control character but the line breaks between our own lines.
    // eslint-disable-next-line no-control-regex
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    const leaf = 'O=test, CN=TSA\\x1b[2J\\x1b[31m\\x9b1m';
    const intermediate = 'O=test, CN=Interm\\x1b]0;owned\\x07\\x7f';
    expect(text).toContain(`TSA name:          ${leaf}\n`);
    expect(text).toMatch(new RegExp(`Identifier: +issuer "${escapeRegExp(intermediate)}"`));
    // Certificate names are Node's (OpenSSL's), which writes C0 and DEL as \1B but leaves C1.
    const nodeLeaf = 'O=test, CN=TSA\\1B[2J\\1B[31m\\x9b1m';
    expect(text).toContain(`Subject:     ${nodeLeaf}\n`);
    expect(text).toContain(`Issuer:      O=test, CN=Interm\\1B]0\\;owned\\07\\7F\n`);
    expect(text).toContain(`valid, by the embedded certificate ${nodeLeaf} (chain not checked)`);
  });

  it('prints JSON with every control character escaped, the same values once parsed', async () => {
    const json = await inspected('json');
    // JSON.stringify escapes C0 itself, not DEL or C1 (U+009B is a CSI to some terminals).
    // eslint-disable-next-line no-control-regex
    expect(json).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    const parsed = JSON.parse(json) as { TimestampResponse: { tsaName: string } };
    expect(parsed.TimestampResponse.tsaName).toBe(`O=test, CN=${LEAF}`);
    // verify --format json prints the same timestamp object.
    const verified = await inspected('json', verifyCommand);
    // eslint-disable-next-line no-control-regex
    expect(verified).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    const timestamp = JSON.parse(verified) as { ParsedTimestamp: { tsaName: string } };
    expect(timestamp.ParsedTimestamp.tsaName).toBe(`O=test, CN=${LEAF}`);
  });
});

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('timestamp-cli verify on hostile files', () => {
  it('refuses a --timestamp file over 1 MiB without reading it whole', async () => {
    const command = verifyCommand(
      () => ({ timestampServer: 'http://127.0.0.1', format: 'default', timeout: 0 }),
      { stdout: () => {}, stderr: () => {} },
    ).exitOverride();
    const dir = tempDir();
    try {
      const artifact = dir.write('artifact', 'hello');
      const chain = dir.write('chain.pem', '');
      const error = await command
        .parseAsync(
          ['--timestamp', '/dev/zero', '--artifact', artifact, '--certificate-chain', chain],
          { from: 'user' },
        )
        .then(
          () => undefined,
          (caught: unknown) => caught,
        );
      expect(error).toBeInstanceOf(CliError);
      expect((error as CliError).message).toBe(
        'error reading --timestamp /dev/zero: the file is larger than 1048576 bytes (1 MiB), the most accepted',
      );
    } finally {
      dir.cleanup();
    }
  });
});

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliError } from '../../../src/cli/timestamp-cli/output.js';
import { timestampCommand } from '../../../src/cli/timestamp-cli/timestamp-command.js';
import { tempDir } from '../../helpers/openssl.js';
import { issueToken, makePki } from '../../helpers/pki.js';

/** What `timestamp` says of an answer that is a well-formed response, but not the one asked for. */
describe('timestamp-cli timestamp: a response that does not answer the request', () => {
  const AT = new Date('2025-06-07T08:09:10Z');
  const dir = tempDir();
  let server: Server;
  let url: string;
  /** The body the server answers next. */
  let answer: Buffer = Buffer.alloc(0);

  beforeAll(async () => {
    server = createServer((request, response) => {
      request.resume();
      request.on('end', () =>
        response.writeHead(200, { 'Content-Type': 'application/timestamp-reply' }).end(answer),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    dir.write('artifact', 'artifact');
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    dir.cleanup();
  });

  async function timestamp(body: Buffer, args: string[] = []): Promise<CliError> {
    answer = body;
    const command = timestampCommand(
      () => ({ timestampServer: url, format: 'default', timeout: 30_000 }),
      { stdout: () => {}, stderr: () => {} },
    ).exitOverride();
    const error: unknown = await command
      .parseAsync(
        [
          '--artifact',
          dir.path('artifact'),
          '--out',
          dir.path('out.tsr'),
          '--nonce=false',
          ...args,
        ],
        { from: 'user' },
      )
      .then(
        () => undefined,
        (caught: unknown) => caught,
      );
    expect(error).toBeInstanceOf(CliError);
    return error as CliError;
  }

  it('a grantedWithMods status is a refusal by the server, not a parse error', async () => {
    // TimeStampResp { status PKIStatusInfo { status grantedWithMods (1) } }
    const error = await timestamp(Buffer.from('30053003020101', 'hex'));
    expect(error.code).toBe('SERVER_REFUSED');
    expect(error.message).toBe(
      'error getting timestamp: the response status is grantedWithMods: only granted tokens are accepted',
    );
  });

  it.each([
    // TimeStampResp { status PKIStatusInfo { status, statusString? } }
    ['30053003020102', 'the request is rejected (no failure info)'],
    ['30053003020103', 'the response status is waiting (3), not granted (no failure info)'],
    [
      '300b300902010430040c026e6f',
      'the response status is revocationWarning (4), not granted: no (no failure info)',
    ],
    [
      '30053003020105',
      'the response status is revocationNotification (5), not granted (no failure info)',
    ],
    ['30053003020109', 'the response status is 9, not granted (no failure info)'],
  ])('a status that is not granted is named: %s', async (hex, said) => {
    const error = await timestamp(Buffer.from(hex, 'hex'));
    expect(error.code).toBe('SERVER_REFUSED');
    expect(error.message).toBe(`error getting timestamp: ${said}`);
  });

  it("another artifact's token or another policy is an invalid response, not a parse error", async () => {
    const pki = await makePki({}, AT);
    const other = await issueToken(pki, { artifact: Buffer.from('other'), genTime: AT });
    const imprint = await timestamp(other);
    expect(imprint.code).toBe('INVALID_RESPONSE');
    expect(imprint.message).toBe(
      `invalid response from ${url}: the response's message imprint does not match the artifact`,
    );
    const mine = await issueToken(pki, { artifact: Buffer.from('artifact'), genTime: AT });
    const policy = await timestamp(mine, ['--tsa-policy', '1.2.3.4']);
    expect(policy.message).toMatch(
      new RegExp(
        `^invalid response from ${url}: the response's policy [\\d.]+ is not the requested 1\\.2\\.3\\.4$`,
      ),
    );
  });

  it('a malformed answer keeps its own words', async () => {
    const error = await timestamp(Buffer.from('3000', 'hex'));
    expect(error.code).toBe('INVALID_RESPONSE');
    expect(error.message).toMatch(/^timestamp response is not valid: /);
  });
});

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bitString, integer, sequence, tlv } from '../../../src/asn1/der.js';
import { errorLine } from '../../../src/cli/exit-status.js';
import { requestTimestamp } from '../../../src/cli/timestamp-cli/http-client.js';
import { getLogResource } from '../../../src/cli/timestamp-cli/log-client.js';
import { CliError } from '../../../src/cli/timestamp-cli/output.js';
import { issueToken, makePki } from '../../helpers/pki.js';

/**
 * An answer that is not a time-stamp response (a proxy's error page, a captive portal's 200, a
 * JSON error) is reported as what it is: its status, Content-Type and the start of its body (or a
 * JSON error's message), bounded and escaped; it is parsed as a TimeStampResp only when labelled
 * application/timestamp-reply or when it starts as DER does (0x30).
 */
const NGINX_502 =
  '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';

/** A rejection TimeStampResp: status 2, a statusString, failInfo badAlg. */
const REJECTION = sequence(
  sequence(
    integer(2),
    sequence(tlv(0x0c, Buffer.from('unsupported algorithm'))),
    bitString(Buffer.from([0x80])),
  ),
);

/** What each path answers: status, headers, body. */
type Answer = [number, Record<string, string>, string | Buffer];
const answers = new Map<string, Answer>();

let server: Server;
let base: string;
let token: Buffer;

beforeAll(async () => {
  token = await issueToken(await makePki(), { artifact: Buffer.from('error pages') });
  server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      const [status, headers, body] = answers.get(request.url ?? '') ?? [404, {}, ''];
      response.writeHead(status, headers).end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** The error requestTimestamp ends with for `answer`, as the CLI prints it. */
async function timestampFailure(answer: Answer): Promise<{ code: string; line: string }> {
  answers.set('/api/v1/timestamp', answer);
  try {
    await requestTimestamp(base, Buffer.from('request'), 30_000);
  } catch (error) {
    expect(error).toBeInstanceOf(CliError);
    return { code: (error as CliError).code, line: errorLine(error) };
  }
  throw new Error('the request unexpectedly succeeded');
}

describe('timestamp: an answer that is not a time-stamp response', () => {
  it('a 502 page of a proxy: its status, Content-Type and start, not an ASN.1 error', async () => {
    expect(await timestampFailure([502, { 'Content-Type': 'text/html' }, NGINX_502])).toEqual({
      code: 'SERVER_REFUSED',
      line:
        'error getting timestamp: HTTP 502 (text/html): <html>\\x0d\\x0a<head><title>502 Bad Gateway</title></head>\\x0d\\x0a<body>\\x0d\\x0a' +
        '<center><h1>502 Bad Gateway</h1></center>\\x0d\\x0a<hr><center>nginx</center>\\x0d\\x0a</body>\\x0d\\x0a</html>\\x0d\\x0a',
    });
  });

  it('a 200 HTML page (a captive portal): not parsed as ASN.1', async () => {
    const page = `<!DOCTYPE html><html><body>${'Sign in to the network. '.repeat(20)}</body></html>`;
    const failure = await timestampFailure([
      200,
      { 'Content-Type': 'text/html; charset=utf-8' },
      page,
    ]);
    expect(failure).toEqual({
      code: 'INVALID_RESPONSE',
      line: `error getting timestamp: the answer is not a time-stamp response: HTTP 200 (text/html): ${page.slice(0, 200)}…`,
    });
  });

  it('a JSON error: its message, cut when it is long', async () => {
    expect(
      await timestampFailure([
        500,
        { 'Content-Type': 'application/json' },
        JSON.stringify({ code: 500, message: 'error signing' }),
      ]),
    ).toEqual({
      code: 'SERVER_REFUSED',
      line: 'error getting timestamp: HTTP 500: error signing',
    });
    const huge = 'x'.repeat(300_000);
    const { line } = await timestampFailure([
      400,
      { 'Content-Type': 'application/json' },
      JSON.stringify({ code: 400, message: huge }),
    ]);
    expect(line).toBe(`error getting timestamp: HTTP 400: ${'x'.repeat(500)}…`);
  });

  it('a body with terminal escapes: escaped, and cut', async () => {
    const { line } = await timestampFailure([
      503,
      {},
      `\x1b[2J\x1b[1;1HSuccessfully verified\x07${'.'.repeat(400)}`,
    ]);
    expect(line).toBe(
      `error getting timestamp: HTTP 503: \\x1b[2J\\x1b[1;1HSuccessfully verified\\x07${'.'.repeat(200 - 32)}…`,
    );
  });

  it('an empty body says so', async () => {
    expect((await timestampFailure([502, { 'Content-Type': 'text/html' }, ''])).line).toBe(
      'error getting timestamp: HTTP 502 (text/html): (empty body)',
    );
  });

  it('a rejection TimeStampResp: its status, whatever the HTTP status', async () => {
    const rejected = 'the request is rejected: unsupported algorithm (badAlg)';
    const answer = (status: number): Answer => [
      status,
      { 'Content-Type': 'application/timestamp-reply' },
      REJECTION,
    ];
    expect(await timestampFailure(answer(200))).toEqual({
      code: 'SERVER_REFUSED',
      line: `error getting timestamp: ${rejected}`,
    });
    expect(await timestampFailure(answer(400))).toEqual({
      code: 'SERVER_REFUSED',
      line: `error getting timestamp: HTTP 400: ${rejected}`,
    });
  });

  it('a time-stamp response a server mislabels (DER, 0x30 first) is still taken', async () => {
    answers.set('/api/v1/timestamp', [200, { 'Content-Type': 'text/plain' }, token]);
    expect(await requestTimestamp(base, Buffer.from('request'), 30_000)).toEqual(token);
    answers.set('/api/v1/timestamp', [201, {}, token]);
    expect(await requestTimestamp(base, Buffer.from('request'), 30_000)).toEqual(token);
  });
});

describe('log commands: an error page', () => {
  it('is reported by its status, Content-Type and start, or its JSON message', async () => {
    answers.set('/api/v1/log/checkpoint', [502, { 'Content-Type': 'text/html' }, NGINX_502]);
    const error = await getLogResource(base, 'checkpoint', 30_000).catch(
      (caught: unknown) => caught,
    );
    expect(errorLine(error)).toMatch(
      new RegExp(
        `^GET ${base}/api/v1/log/checkpoint: HTTP 502 \\(text/html\\): <html>\\\\x0d\\\\x0a<head>`,
      ),
    );
    answers.set('/api/v1/log/key', [
      503,
      { 'Content-Type': 'application/json' },
      JSON.stringify({ code: 503, message: `busy${'!'.repeat(1000)}` }),
    ]);
    const busy = await getLogResource(base, 'key', 30_000).catch((caught: unknown) => caught);
    expect(errorLine(busy)).toBe(`GET ${base}/api/v1/log/key: HTTP 503: busy${'!'.repeat(496)}…`);
  });
});

import { createServer, type Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKmsSigner } from '../../../../src/signers/kms/create-kms-signer.js';
import { DEFAULT_REMOTE_CALL_POLICY } from '../../../../src/signers/kms/remote-signer.js';
import { ServiceErrorSummary } from '../../../../src/signers/kms/failure-reason.js';
import { MAX_ANSWER_BYTES } from '../../../../src/signers/kms/answer-cap.js';
import { stdSerializers } from 'pino';
import type { ProviderOptions } from '../../../../src/signers/kms/provider-options.js';
import { HTML_PAGE, startFakeOddService, type OddAnswer } from '../../../helpers/odd-answers.js';
import { restoreEnvAfterAll } from '../../../helpers/env.js';
import { AWS_KMS_VARIABLES, awsKmsEnvironment } from '../../../helpers/fake-aws-kms.js';

/**
 * What a KMS endpoint aimed at the wrong thing (a proxy's error page, a web server, a service
 * that answers garbage) makes of start-up's one FATAL line, through each real SDK: the provider,
 * the HTTP status, one excerpt of at most 300 characters on one line, and the endpoint override
 * in effect. The SDKs' own errors said `Unexpected token '<', "<html><bod"... is not valid JSON`
 * and a second line (AWS, status lost), `Cannot read properties of undefined (reading 'kid')`
 * (Azure, a 200 it could not read), the whole 300 KB body (Azure, a JSON type), or a JSON.parse
 * error with no "Vault" in it.
 */
const HUGE_JSON_TYPED: OddAnswer = {
  status: 200,
  contentType: 'application/json',
  body: `{"key": "${'x'.repeat(300_000)}`,
};
const HTML_200: OddAnswer = { ...HTML_PAGE, status: 200 };

let aws: Awaited<ReturnType<typeof startFakeOddService>>;
let azure: Awaited<ReturnType<typeof startFakeOddService>>;
let vault: Awaited<ReturnType<typeof startFakeOddService>>;
const VARIABLES = [
  ...AWS_KMS_VARIABLES,
  'VAULT_ADDR',
  'VAULT_TOKEN',
  'IDENTITY_ENDPOINT',
  'IDENTITY_HEADER',
  'GCP_KMS_ENDPOINT',
  'METADATA_SERVER_DETECTION',
] as const;
restoreEnvAfterAll(VARIABLES);

beforeAll(async () => {
  [aws, azure, vault] = await Promise.all([
    startFakeOddService(),
    startFakeOddService({ azure: true }),
    startFakeOddService(),
  ]);
  Object.assign(process.env, {
    ...awsKmsEnvironment(aws.origin),
    VAULT_ADDR: vault.origin,
    VAULT_TOKEN: 'hvs.odd-answers-token',
    ...azure.identityEnv,
  });
});
afterAll(async () => {
  await Promise.all([aws?.close(), azure?.close(), vault?.close()]);
});

/** The start-up error for `uri` while its service answers `answer`. */
async function startupError(
  service: { answer(answer: OddAnswer): void },
  answer: OddAnswer,
  uri: string,
  options: ProviderOptions = {},
): Promise<Error> {
  service.answer(answer);
  try {
    await createKmsSigner(uri, 'auto', DEFAULT_REMOTE_CALL_POLICY, options);
  } catch (error) {
    return error as Error;
  }
  throw new Error('it started');
}

/** The start-up error's message for `uri` while its service answers `answer`. */
async function startupFailure(...args: Parameters<typeof startupError>): Promise<string> {
  return (await startupError(...args)).message;
}

/** One line, bounded: what any description must be. */
function expectOneBoundedLine(message: string) {
  // eslint-disable-next-line no-control-regex
  expect(message).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  // The key's id, the provider's words, at most one 300-character excerpt, the override.
  expect(message.length).toBeLessThan(700);
}

describe('a KMS endpoint that answers what no KMS would', () => {
  it('AWS KMS: the status, the Content-Type and AWS_ENDPOINT_URL_KMS named', async () => {
    const uri = 'awskms:///alias/tsa';
    const html = await startupFailure(aws, HTML_PAGE, uri);
    expect(html).toBe(
      `awskms:alias/tsa: cannot read the public key: AWS KMS answered HTTP 502 (text/html): SyntaxError: Unexpected token '<', "<html><bod"... is not valid JSON (endpoint override: AWS_ENDPOINT_URL_KMS)`,
    );
    const ok = await startupFailure(aws, HTML_200, uri);
    expect(ok).toMatch(
      /^awskms:alias\/tsa: cannot read the public key: AWS KMS answered HTTP 200 \(text\/html\), an answer the SDK could not read: SyntaxError: .* \(endpoint override: AWS_ENDPOINT_URL_KMS\)$/,
    );
    const failed = await startupFailure(
      aws,
      { status: 500, contentType: 'application/json', body: '{"oops":1}' },
      uri,
    );
    expect(failed).toBe(
      'awskms:alias/tsa: cannot read the public key: AWS KMS answered HTTP 500 (application/json): UnknownError (endpoint override: AWS_ENDPOINT_URL_KMS)',
    );
    for (const message of [html, ok, failed]) expectOneBoundedLine(message);
  });

  it("keeps the SDK error's class, status, request ID and frames as the cause, never its message", async () => {
    const error = await startupError(
      aws,
      {
        status: 500,
        contentType: 'application/x-amz-json-1.1',
        body: JSON.stringify({ __type: 'KMSInternalException', message: 'the-sdk-message' }),
        headers: { 'x-amzn-requestid': '946ee832-0000-4000-8000-000000000001' },
      },
      'awskms:///alias/tsa',
    );
    expect(error.message).toContain('AWS KMS answered HTTP 500');
    expect(error.cause).toBeInstanceOf(ServiceErrorSummary);
    expect(error.cause).toMatchObject({
      errorClass: 'KMSInternalException',
      httpStatus: 500,
      requestId: '946ee832-0000-4000-8000-000000000001',
      message: expect.stringMatching(
        /^KMSInternalException\b.* \(HTTP 500, request ID 946ee832-0000-4000-8000-000000000001, its message not kept\)$/,
      ),
    });
    // What the request's log line prints of the error: pino's error serialiser, as the logger's.
    const logged = stdSerializers.err(error);
    expect(logged.message).toContain('request ID 946ee832-0000-4000-8000-000000000001');
    const cause = logged.stack.slice(logged.stack.indexOf('caused by:'));
    expect(cause).toMatch(/^caused by: ServiceErrorSummary: .*\n {4}at /);
    // The description above quotes a capped excerpt of it; the cause, nothing.
    expect(cause).not.toContain('the-sdk-message');
  });

  it("Azure Key Vault: a 200 it could not read, a proxy's page quoted once, a 300 KB body cut", async () => {
    const uri = `azurekms://${azure.host}/tsa`;
    const options = { ca: azure.cert! };
    const override = '(endpoint override: the azurekms:// host, not an Azure Key Vault domain)';
    const ok = await startupFailure(azure, HTML_200, uri, options);
    expect(ok).toBe(
      `azurekms:${azure.host}/tsa: cannot read the public key: Azure Key Vault answered HTTP 200 (text/html), an answer the SDK could not read: "<html><body><h1>502 Bad Gateway</h1>\\x0d\\x0a<p>upstream unreachable</p></body></html>" ${override}`,
    );
    const page = await startupFailure(azure, HTML_PAGE, uri, options);
    expect(page).toMatch(/Azure Key Vault answered HTTP 502 \(text\/html\): "<html>/);
    const huge = await startupFailure(azure, HUGE_JSON_TYPED, uri, options);
    expect(huge).toMatch(
      /Azure Key Vault answered HTTP 200 \(application\/json\), an answer the SDK could not read: RestError: .*x…/,
    );
    expect(huge).toContain(override);
    for (const message of [ok, page, huge]) expectOneBoundedLine(message);
  });

  it('Vault: a 200 that is not JSON says Vault, the call, the status and an excerpt', async () => {
    const message = await startupFailure(vault, HUGE_JSON_TYPED, 'hashivault://tsa');
    expect(message).toMatch(
      /^hashivault:transit\/tsa: cannot read the public key: Vault GET \/v1\/transit\/keys\/tsa: HTTP 200 \(application\/json\) answer is not JSON: "\{"key": "x+…"$/,
    );
    expectOneBoundedLine(message);
    const html = await startupFailure(vault, HTML_200, 'hashivault://tsa');
    expect(html).toContain('HTTP 200 (text/html) answer is not JSON: "<html><body>');
    expectOneBoundedLine(html);
    // JSON, but no object: `null` read as one was a TypeError ("reading 'data'") and a 500.
    for (const body of ['null', '7', '"text"']) {
      const json = { status: 200, contentType: 'application/json', body };
      expect(await startupFailure(vault, json, 'hashivault://tsa')).toBe(
        'hashivault:transit/tsa: cannot read the public key: Vault /v1/transit/keys/tsa: no data in the answer',
      );
    }
  });

  it('AWS KMS and Azure Key Vault: an endless answer is cut at 4 MiB, not read whole', async () => {
    // The SDKs read an answer whole: 200 MB of it took 1.5 GB and held the event loop for seconds.
    const endless: OddAnswer = {
      status: 200,
      contentType: 'application/json',
      body: '{"Signature": "',
      endless: true,
    };
    const awsMessage = await startupFailure(aws, endless, 'awskms:///alias/tsa');
    expect(awsMessage).toBe(
      'awskms:alias/tsa: cannot read the public key: AWS KMS DescribeKeyCommand: HTTP 200 answer larger than 4 MiB, not read (endpoint override: AWS_ENDPOINT_URL_KMS)',
    );
    const azureUri = `azurekms://${azure.host}/tsa`;
    const azureMessage = await startupFailure(azure, endless, azureUri, { ca: azure.cert! });
    expect(azureMessage).toMatch(
      /^azurekms:127\.0\.0\.1:\d+\/tsa: cannot read the public key: Azure Key Vault GET \/keys\/tsa\/: HTTP 200 answer larger than 4 MiB, not read \(endpoint override: the azurekms:\/\/ host, not an Azure Key Vault domain\)$/,
    );
    // Each read up to the cap before it gave up.
    for (const service of [aws, azure])
      expect(service.endlessBytes()).toBeGreaterThan(MAX_ANSWER_BYTES - 64 * 1024);
    for (const message of [awsMessage, azureMessage]) expectOneBoundedLine(message);
  });

  it('Cloud KMS: an HTTP/2 proxy answering its page instead of gRPC, GCP_KMS_ENDPOINT named', async () => {
    const server: Http2Server = createServer();
    server.on('stream', (stream) => {
      stream.respond({ ':status': 502, 'content-type': 'text/html' });
      stream.end(HTML_PAGE.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    process.env['METADATA_SERVER_DETECTION'] = 'none';
    process.env['GCP_KMS_ENDPOINT'] = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const failure = await createKmsSigner(
        'gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1',
        'auto',
      ).then(
        () => new Error('it started'),
        (error: unknown) => error as Error,
      );
      expect(failure.message).toBe(
        'gcpkms:projects/p/locations/global/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1: cannot read the public key: Cloud KMS call failed: 14 UNAVAILABLE: Received HTTP status code 502 (endpoint override: GCP_KMS_ENDPOINT)',
      );
      expectOneBoundedLine(failure.message);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

/**
 * Live interop: a real listening server, requests made by `openssl ts -query`, tokens verified by
 * `openssl ts -verify` (ARCHITECTURE section 8: OpenSSL is the oracle).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import { startServer, type RunningServer } from '../../../src/runtime/serve.js';
import { encodePem } from '../../../src/x509/pem.js';
import { openssl, tempDir } from '../../helpers/openssl.js';
import { opensslTsVerify } from '../../helpers/timestamp-roundtrip.js';
import { silentLogger } from '../../helpers/tsa.js';

describe('openssl interop against a listening server', () => {
  let server: RunningServer;
  const files = tempDir();
  const data = files.write('myblob', 'myblob\n');
  let trust: { root: string; untrusted: string };

  beforeAll(async () => {
    server = await startServer(
      resolveServeConfig({
        port: 0,
        metricsPort: 0,
        disableNtpMonitoring: true,
        acceptedPolicyOids: ['1.3.6.1.4.1.57264.2', '1.2.3.4'],
      }),
      silentLogger,
    );
    const chain = server.chain.map((certificate) => encodePem('CERTIFICATE', certificate.der));
    trust = {
      root: files.write('root.pem', chain.at(-1) ?? ''),
      untrusted: files.write('chain.pem', chain.slice(0, -1).join('')),
    };
  });
  afterAll(async () => {
    await server.close();
    files.cleanup();
  });

  async function post(body: Uint8Array, contentType: string): Promise<Response> {
    return fetch(`${server.url}/api/v1/timestamp`, {
      method: 'POST',
      headers: { 'content-type': contentType },
      body,
    });
  }

  async function fetchToken(
    queryArgs: string[],
    name: string,
  ): Promise<{ query: string; reply: string }> {
    const query = files.path(`${name}.tsq`);
    await openssl(['ts', '-query', '-data', data, ...queryArgs, '-out', query]);
    const response = await post(readFileSync(query), 'application/timestamp-query');
    expect(response.status).toBe(200);
    const reply = files.write(`${name}.tsr`, new Uint8Array(await response.arrayBuffer()));
    return { query, reply };
  }

  it.each([
    ['sha256', ['-sha256', '-cert']],
    ['sha384', ['-sha384', '-cert']],
    ['sha512', ['-sha512', '-cert']],
    ['no-cert', ['-sha256']],
    ['no-nonce', ['-sha256', '-cert', '-no_nonce']],
    ['policy', ['-sha256', '-cert', '-tspolicy', '1.2.3.4']],
  ])('%s: verifies with -data and with -queryfile', async (name, args) => {
    const { query, reply } = await fetchToken(args, name);
    expect(await opensslTsVerify(reply, { data }, trust)).toMatch(/Verification: OK/);
    expect(await opensslTsVerify(reply, { queryfile: query }, trust)).toMatch(/Verification: OK/);
  });

  it('openssl ts -reply -text shows policy, serial, accuracy, nonce and TSA name', async () => {
    const { reply } = await fetchToken(['-sha256', '-cert', '-tspolicy', '1.2.3.4'], 'text');
    const text = await openssl(['ts', '-reply', '-in', reply, '-text']);
    expect(text).toMatch(/Status: Granted\./);
    expect(text).toMatch(/Policy OID: 1\.2\.3\.4/);
    expect(text).toMatch(/Serial number: 0x[0-9A-F]+/);
    expect(text).toMatch(/Accuracy: 0x01 seconds, unspecified millis, unspecified micros/);
    expect(text).toMatch(/Ordering: no/);
    expect(text).toMatch(/Nonce: 0x[0-9A-F]+/);
    expect(text).toMatch(/TSA: DirName:\/O=local\/CN=Test TSA Timestamping/);
  });

  it('a tampered artifact fails verification', async () => {
    const { reply } = await fetchToken(['-sha256', '-cert'], 'tamper');
    const other = files.write('other', 'other\n');
    await expect(opensslTsVerify(reply, { data: other }, trust)).rejects.toThrow(
      /message imprint mismatch/,
    );
  });

  it('a JSON request token verifies with -digest and echoes a nonce of 2^64+1 exactly', async () => {
    const digestHex = (await openssl(['dgst', '-sha384', '-r', data])).split(' ')[0] ?? '';
    const nonce = (1n << 64n) + 1n;
    const body = `{"artifactHash":"${Buffer.from(digestHex, 'hex').toString('base64')}","hashAlgorithm":"sha384","certificates":true,"nonce":${nonce}}`;
    const response = await post(Buffer.from(body), 'application/json');
    expect(response.status).toBe(200);
    const reply = files.write('json.tsr', new Uint8Array(await response.arrayBuffer()));
    expect(await opensslTsVerify(reply, { digest: digestHex }, trust)).toMatch(/Verification: OK/);
    expect(await openssl(['ts', '-reply', '-in', reply, '-text'])).toMatch(
      /Nonce: 0x010000000000000001\n/,
    );
  });

  it('a rejection is a TimeStampResp that openssl reads, with failure info (HTTP 200)', async () => {
    const query = files.path('sha1.tsq');
    await openssl(['ts', '-query', '-data', data, '-sha1', '-out', query]);
    const response = await post(readFileSync(query), 'application/timestamp-query');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/timestamp-reply');
    const reply = files.write('sha1.tsr', new Uint8Array(await response.arrayBuffer()));
    const text = await openssl(['ts', '-reply', '-in', reply, '-text']);
    expect(text).toMatch(/Status: Rejected\./);
    expect(text).toMatch(/Weak hash algorithm in timestamp request/);
    expect(text).toMatch(/Failure info: unrecognized or unsupported algorithm/);
  });
});

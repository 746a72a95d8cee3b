/**
 * The Go server's own API tests (reference sections 12.1 and 12.2), ported: the same requests
 * against the memory signer must give the same observable results.
 */
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { OID } from '../../../src/asn1/oids.js';
import {
  commonName,
  decodeResponse,
  dotted,
  nonceOf,
  type DecodedResponse,
} from '../../helpers/decode.js';
import { encodeRequest, sha256 } from '../../helpers/requests.js';
import { createTestServer } from '../../helpers/tsa.js';
import * as pkijs from 'pkijs';

const artifact = 'blob data for the Go acceptance cases';
const digest = sha256(artifact);

async function timestamp(
  app: Awaited<ReturnType<typeof createTestServer>>['app'],
  contentType: string,
  payload: string | Buffer,
) {
  const response = await app.inject({
    method: 'POST',
    url: '/api/v1/timestamp',
    headers: { 'content-type': contentType },
    payload,
  });
  return {
    response,
    decoded: response.statusCode < 300 ? decodeResponse(response.rawPayload) : undefined,
  };
}

function certificates(decoded: DecodedResponse): pkijs.Certificate[] {
  return (decoded.signedData?.certificates ?? []) as pkijs.Certificate[];
}

/** Assertions of Go's api_test.go for a granted token with certReq and nonce 1234. */
function expectGoToken(decoded: DecodedResponse | undefined, expectedCertificates: string[]): void {
  const tstInfo = decoded?.tstInfo;
  if (!decoded || !tstInfo) throw new Error('no token');
  expect(certificates(decoded).map(commonName)).toEqual(expectedCertificates);
  expect(nonceOf(tstInfo)).toBe(1234n);
  expect(dotted(tstInfo.messageImprint.hashAlgorithm.algorithmId)).toBe(OID.sha256);
  expect(Buffer.from(tstInfo.messageImprint.hashedMessage.valueBlock.valueHexView)).toEqual(digest);
  // Whole seconds, rounded to the nearest: up to half a second after the issuing clock.
  expect(tstInfo.genTime.getTime()).toBeLessThanOrEqual(Date.now() + 500);
  expect(tstInfo.genTime.getUTCMilliseconds()).toBe(0);
  expect(tstInfo.accuracy?.seconds).toBe(1);
  expect(tstInfo.accuracy?.millis).toBeUndefined();
  expect(BigInt(tstInfo.serialNumber.toBigInt())).not.toBe(0n);
  expect(tstInfo.ordering).toBeFalsy();
  expect(tstInfo.policy).toBe(OID.sigstoreTsaPolicy);
  expect(tstInfo.extensions ?? []).toHaveLength(0);
}

describe('Go api_test.go cases (reference 12.1)', () => {
  it('1: the certchain passes the chain rules (3 certificates, leaf key signs)', async () => {
    const { app, signer } = await createTestServer();
    const response = await app.inject({ method: 'GET', url: '/api/v1/timestamp/certchain' });
    const pems =
      response.body.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    expect(pems).toHaveLength(3);
    const leaf = new X509Certificate(pems[0] as string);
    expect(leaf.publicKey.export({ type: 'spki', format: 'der' })).toEqual(
      signer.publicKey.export({ type: 'spki', format: 'der' }),
    );
    expect(leaf.checkIssued(new X509Certificate(pems[1] as string))).toBe(true);
  });

  it('2: DER request with nonce and certReq: one certificate, the leaf', async () => {
    const { app } = await createTestServer();
    const { decoded } = await timestamp(
      app,
      'application/timestamp-query',
      encodeRequest({ digest, nonce: 1234n, certReq: true }),
    );
    expectGoToken(decoded, ['Test TSA Timestamping']);
  });

  it('3: with --include-chain-in-response: leaf, intermediate, root in order', async () => {
    const { app } = await createTestServer({ includeChainInResponse: true });
    const { decoded } = await timestamp(
      app,
      'application/timestamp-query',
      encodeRequest({ digest, nonce: 1234n, certReq: true }),
    );
    expectGoToken(decoded, ['Test TSA Timestamping', 'Test TSA Intermediate', 'Test TSA Root']);
  });

  it('4: JSON request gives the same token', async () => {
    const { app } = await createTestServer();
    const body = JSON.stringify({
      certificates: true,
      hashAlgorithm: 'sha256',
      artifactHash: digest.toString('base64'),
      nonce: 1234,
    });
    const { decoded } = await timestamp(app, 'application/json', body);
    expectGoToken(decoded, ['Test TSA Timestamping']);
  });

  it('5: a foreign policy with an extension is refused for the policy first', async () => {
    const { app } = await createTestServer();
    const { response } = await timestamp(
      app,
      'application/timestamp-query',
      encodeRequest({
        digest,
        policy: '1.2.3.4.5',
        extensions: [{ oid: '1.2.3.4', value: Buffer.of(1, 2, 3, 4) }],
      }),
    );
    expect(decodeResponse(response.rawPayload).statusStrings[0]).toContain('unaccepted policy');
  });

  it('6: accepted policy and allowed extensions are echoed into the token', async () => {
    const { app } = await createTestServer({
      acceptedPolicyOids: [OID.sigstoreTsaPolicy, '1.2.3.4.5'],
      allowCustomExtensions: true,
    });
    const { decoded } = await timestamp(
      app,
      'application/timestamp-query',
      encodeRequest({
        digest,
        policy: '1.2.3.4.5',
        // Non-critical: critical extensions are always refused (docs/api.md, Requests and rejections).
        extensions: [{ oid: '1.2.3.4', value: Buffer.of(1, 2, 3, 4) }],
      }),
    );
    expect(decoded?.tstInfo?.policy).toBe('1.2.3.4.5');
    const extensions = decoded?.tstInfo?.extensions ?? [];
    expect(extensions).toHaveLength(1);
    expect(extensions[0]?.extnID).toBe('1.2.3.4');
    expect(extensions[0]?.critical).toBe(false);
    expect(Buffer.from(extensions[0]?.extnValue.valueBlock.valueHexView ?? [])).toEqual(
      Buffer.of(1, 2, 3, 4),
    );
  });

  it('beyond Go: a request may name the default policy, listed among the accepted ones or not', async () => {
    const { app } = await createTestServer({ defaultPolicyOid: '1.2.3.9' });
    const named = await timestamp(
      app,
      'application/timestamp-query',
      encodeRequest({ digest, policy: '1.2.3.9' }),
    );
    expect(named.decoded?.tstInfo?.policy).toBe('1.2.3.9');
    const listed = await timestamp(
      app,
      'application/timestamp-query',
      encodeRequest({ digest, policy: OID.sigstoreTsaPolicy }),
    );
    expect(listed.decoded?.tstInfo?.policy).toBe(OID.sigstoreTsaPolicy);
    const other = await timestamp(
      app,
      'application/timestamp-query',
      encodeRequest({ digest, policy: '1.2.3.10' }),
    );
    expect(decodeResponse(other.response.rawPayload).failInfo).toEqual(['unacceptedPolicy']);
  });

  it('7: certReq false and no nonce: no certificates, no nonce (DER and JSON)', async () => {
    const { app } = await createTestServer();
    const der = await timestamp(
      app,
      'application/timestamp-query',
      encodeRequest({ digest, policy: OID.sigstoreTsaPolicy }),
    );
    const json = await timestamp(
      app,
      'application/json',
      JSON.stringify({
        hashAlgorithm: 'sha256',
        artifactHash: digest.toString('base64'),
        tsaPolicyOID: OID.sigstoreTsaPolicy,
      }),
    );
    for (const { decoded } of [der, json]) {
      expect(decoded?.signedData?.certificates).toBeUndefined();
      expect(decoded?.tstInfo?.nonce).toBeUndefined();
    }
  });

  it('8: SHA-1 is weak, checked before the policy (DER and JSON)', async () => {
    const { app } = await createTestServer();
    const der = await timestamp(
      app,
      'application/timestamp-query',
      encodeRequest({ hashOid: OID.sha1, digest: Buffer.alloc(20), policy: '1.2.3.4' }),
    );
    expect(decodeResponse(der.response.rawPayload).statusStrings[0]).toBe(
      'Weak hash algorithm in timestamp request',
    );
    const json = await timestamp(
      app,
      'application/json',
      JSON.stringify({
        hashAlgorithm: 'sha1',
        artifactHash: Buffer.alloc(20).toString('base64'),
        tsaPolicyOID: '1.2.3.4',
      }),
    );
    expect(json.response.json().message).toBe('Weak hash algorithm in timestamp request');
  });

  it('9: a non-base64 artifactHash is an error', async () => {
    const { app } = await createTestServer();
    const { response } = await timestamp(
      app,
      'application/json',
      JSON.stringify({ hashAlgorithm: 'sha256', artifactHash: 'not*base64*encoded' }),
    );
    expect(response.statusCode).toBe(400);
  });
});

describe('Go timestamp_test.go cases (reference 12.2)', () => {
  it.each([
    ['application/json', 200],
    ['application/timestamp-query', 200],
    ['application/json; charset=utf-8', 200],
    ['application/timestamp-query; charset=utf-8', 200],
    // Go's handler test says "error": over HTTP go-openapi refuses it first, a "/" in a bare
    // parameter value being a parse error (400, routes.test.ts); quoted, it is another type (415).
    ['multipart/form-data; boundary=application/json', 400],
    ['multipart/form-data; boundary="application/json"', 415],
    ['text/plain', 415],
  ])('content type %s -> %i', async (contentType, status) => {
    const { app } = await createTestServer();
    const payload = contentType.startsWith('application/json')
      ? JSON.stringify({ hashAlgorithm: 'sha256', artifactHash: digest.toString('base64') })
      : encodeRequest({ digest });
    const { response } = await timestamp(app, contentType, payload);
    expect(response.statusCode).toBe(status);
  });

  it('an empty content type is refused', async () => {
    const { app } = await createTestServer();
    const response = await app.inject({
      method: 'POST',
      url: '/api/v1/timestamp',
      headers: { 'content-type': '' },
      payload: encodeRequest(),
    });
    expect(response.statusCode).toBe(415);
  });

  it('a 200,000-digit JSON nonce is refused as too large before any parsing', async () => {
    const { app } = await createTestServer();
    const body = `{"artifactHash":"${digest.toString('base64')}","hashAlgorithm":"sha256","nonce":${'9'.repeat(200_000)}}`;
    const { response } = await timestamp(app, 'application/json', body);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ code: 400, message: 'timestamp request is too large' });
  });

  it('a JSON nonce above 2^53 is echoed exactly', async () => {
    const { app } = await createTestServer();
    const nonce = (1n << 64n) + 1n;
    const body = `{"artifactHash":"${digest.toString('base64')}","hashAlgorithm":"SHA256","nonce":${nonce}}`;
    const { decoded } = await timestamp(app, 'application/json', body);
    expect(nonceOf(decoded?.tstInfo as pkijs.TSTInfo)).toBe(nonce);
  });
});

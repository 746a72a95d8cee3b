import { X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeResponse } from '../helpers/decode.js';
import { encodeRequest, sha256 } from '../helpers/requests.js';
import { createTestServer } from '../helpers/tsa.js';

type TestServer = Awaited<ReturnType<typeof createTestServer>>;
const TSQ = { 'content-type': 'application/timestamp-query' };
const JSON_CT = { 'content-type': 'application/json' };

describe('routes', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await createTestServer();
  });

  describe('/ping', () => {
    it.each(['GET', 'HEAD'] as const)('%s answers 200 with body "."', async (method) => {
      const response = await server.app.inject({ method, url: '/ping' });
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toMatch(/^text\/plain/);
      if (method === 'GET') expect(response.body).toBe('.');
    });

    it('matches the path case-insensitively, as Go', async () => {
      const response = await server.app.inject({ method: 'GET', url: '/PiNg' });
      expect(response.statusCode).toBe(200);
      expect(response.body).toBe('.');
    });

    it('refuses POST with 405 and Allow', async () => {
      const response = await server.app.inject({ method: 'POST', url: '/ping' });
      expect(response.statusCode).toBe(405);
      expect(response.headers.allow).toBe('GET, HEAD');
      expect(response.json()).toEqual({
        code: 405,
        message: 'method POST is not allowed, but [GET HEAD] are',
      });
    });
  });

  describe('GET /api/v1/timestamp/certchain', () => {
    it('serves the PEM chain leaf to root, immutable for a day', async () => {
      const response = await server.app.inject({
        method: 'GET',
        url: '/api/v1/timestamp/certchain',
      });
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toBe('application/pem-certificate-chain');
      expect(response.headers['cache-control']).toBe('max-age=86400, immutable');
      const pems =
        response.body.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
      const certificates = pems.map((pem) => new X509Certificate(pem));
      expect(certificates.map((c) => c.subject)).toEqual([
        'O=local\nCN=Test TSA Timestamping',
        'O=local\nCN=Test TSA Intermediate',
        'O=local\nCN=Test TSA Root',
      ]);
      const [leaf, intermediate, root] = certificates as [
        X509Certificate,
        X509Certificate,
        X509Certificate,
      ];
      expect(leaf.verify(intermediate.publicKey)).toBe(true);
      expect(intermediate.verify(root.publicKey)).toBe(true);
      expect(root.verify(root.publicKey)).toBe(true);
    });

    it('answers 406 when the client accepts no PEM chain', async () => {
      const response = await server.app.inject({
        method: 'GET',
        url: '/api/v1/timestamp/certchain',
        headers: { accept: 'application/json' },
      });
      expect(response.statusCode).toBe(406);
      expect(response.json().message).toBe(
        'unsupported media type requested, only [application/pem-certificate-chain] are available',
      );
    });

    it('accepts wildcards in Accept', async () => {
      for (const accept of [
        '*/*',
        'application/*',
        'text/html, application/pem-certificate-chain;q=0.9',
      ]) {
        const response = await server.app.inject({
          method: 'GET',
          url: '/api/v1/timestamp/certchain',
          headers: { accept },
        });
        expect(response.statusCode, accept).toBe(200);
      }
    });
  });

  describe('POST /api/v1/timestamp', () => {
    it('grants a DER request with 200, timestamp-reply and Go no-cache headers', async () => {
      const response = await server.app.inject({
        method: 'POST',
        url: '/api/v1/timestamp',
        headers: { ...TSQ, 'x-request-id': 'req-42' },
        payload: encodeRequest({ nonce: 1234n, certReq: true }),
      });
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toBe('application/timestamp-reply');
      expect(response.headers['cache-control']).toBe(
        'no-cache, no-store, no-transform, must-revalidate, private, max-age=0',
      );
      expect(response.headers.expires).toBe('Thu, 01 Jan 1970 00:00:00 GMT');
      expect(response.headers.pragma).toBe('no-cache');
      expect(response.headers['x-accel-expires']).toBe('0');
      expect(response.headers['x-request-id']).toBe('req-42');
      expect(decodeResponse(response.rawPayload).status).toBe(0);
    });

    it('accepts media type parameters', async () => {
      const response = await server.app.inject({
        method: 'POST',
        url: '/api/v1/timestamp',
        headers: { 'content-type': 'Application/Timestamp-Query; charset=binary' },
        payload: encodeRequest(),
      });
      expect(response.statusCode).toBe(200);
    });

    it('answers 201 with --use-http-201', async () => {
      const { app } = await createTestServer({ useHttp201: true });
      const response = await app.inject({
        method: 'POST',
        url: '/api/v1/timestamp',
        headers: TSQ,
        payload: encodeRequest(),
      });
      expect(response.statusCode).toBe(201);
    });

    it.each([
      ['text/plain', 'text/plain'],
      ['multipart/form-data; boundary=application/json', 'multipart/form-data'],
      ['application/octet-stream', 'application/octet-stream'],
    ])('refuses Content-Type %s with 415', async (contentType, shown) => {
      const response = await server.app.inject({
        method: 'POST',
        url: '/api/v1/timestamp',
        headers: { 'content-type': contentType },
        payload: encodeRequest(),
      });
      expect(response.statusCode).toBe(415);
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      expect(response.json()).toEqual({
        code: 415,
        message: `unsupported media type "${shown}", only [application/timestamp-query application/json] are allowed`,
      });
    });

    it('refuses a body without Content-Type with 415', async () => {
      const response = await server.app.inject({
        method: 'POST',
        url: '/api/v1/timestamp',
        payload: encodeRequest(),
      });
      expect(response.statusCode).toBe(415);
    });

    it('refuses a body over --max-request-body-size with 413', async () => {
      const { app } = await createTestServer({ maxRequestBodySize: 100 });
      const response = await app.inject({
        method: 'POST',
        url: '/api/v1/timestamp',
        headers: TSQ,
        payload: Buffer.alloc(101),
      });
      expect(response.statusCode).toBe(413);
      expect(response.json()).toEqual({
        code: 413,
        message: 'request body is larger than 100 bytes',
      });
    });

    it.each(['GET', 'PUT', 'DELETE', 'PATCH', 'HEAD'] as const)(
      'refuses %s with 405 and Allow: POST',
      async (method) => {
        const response = await server.app.inject({ method, url: '/api/v1/timestamp' });
        expect(response.statusCode).toBe(405);
        expect(response.headers.allow).toBe('POST');
        if (method !== 'HEAD') {
          expect(response.json()).toEqual({
            code: 405,
            message: `method ${method} is not allowed, but [POST] are`,
          });
        }
      },
    );
  });

  describe('methods a route does not serve', () => {
    // Fastify routes some methods and not others (TRACE, PROPFIND, QUERY...): all are 405 on a
    // known path, with the methods the path does serve; plain OPTIONS too (preflights are CORS's).
    const routes = [
      ['/api/v1/timestamp', 'POST'],
      ['/api/v1/timestamp/certchain', 'GET, HEAD'],
      ['/ping', 'GET, HEAD'],
      ['/PING', 'GET, HEAD'],
      ['/livez', 'GET, HEAD'],
      ['/readyz', 'GET, HEAD'],
      ['/openapi.yaml', 'GET, HEAD'],
    ] as const;
    const methods = ['TRACE', 'PROPFIND', 'QUERY', 'LINK', 'MKCOL', 'OPTIONS', 'DELETE'] as const;
    it.each(routes.flatMap(([url, allow]) => methods.map((method) => [method, url, allow])))(
      '%s %s is 405 with Allow: %s',
      async (method, url, allow) => {
        const response = await server.app.inject({ method: method as 'GET', url });
        expect(response.statusCode).toBe(405);
        expect(response.headers.allow).toBe(allow);
        expect(response.json()).toEqual({
          code: 405,
          message: `method ${method} is not allowed, but [${allow.replace(',', '')}] are`,
        });
      },
    );

    it('refuses a method on a known path with a query string too', async () => {
      const response = await server.app.inject({ method: 'TRACE', url: '/api/v1/timestamp?x=1' });
      expect(response.statusCode).toBe(405);
      expect(response.headers.allow).toBe('POST');
    });

    it.each(methods)('%s on an unknown path stays 404', async (method) => {
      const response = await server.app.inject({ method, url: '/api/v1/timestamp/' });
      expect(response.statusCode).toBe(404);
      expect(response.headers.allow).toBeUndefined();
    });
  });

  it('answers an unknown path with 404 and the Go message', async () => {
    const response = await server.app.inject({ method: 'GET', url: '/api/v1/nothing?x=1' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ code: 404, message: 'path /api/v1/nothing was not found' });
  });

  describe('DER rejections', () => {
    const post = (payload: Buffer) =>
      server.app.inject({ method: 'POST', url: '/api/v1/timestamp', headers: TSQ, payload });
    const valid = encodeRequest({ nonce: 7n, certReq: true });
    const generic = 'Error generating timestamp response';

    it.each([
      ['garbage', Buffer.from('not a request'), 'badDataFormat', generic],
      ['an empty body', Buffer.alloc(0), 'badDataFormat', generic],
      ['trailing bytes', Buffer.concat([valid, Buffer.of(0)]), 'badDataFormat', generic],
      ['a truncated request', valid.subarray(0, valid.length - 3), 'badDataFormat', generic],
      [
        'an indefinite length',
        Buffer.concat([Buffer.of(0x30, 0x80), valid.subarray(2), Buffer.of(0, 0)]),
        'badDataFormat',
        generic,
      ],
      ['version 2', encodeRequest({ version: 2n }), 'badRequest', generic],
      ['version 0', encodeRequest({ version: 0n }), 'badRequest', generic],
      ['a huge version', encodeRequest({ version: 1n << 100n }), 'badRequest', generic],
      [
        'SHA-1',
        encodeRequest({ hashOid: '1.3.14.3.2.26', digest: Buffer.alloc(20) }),
        'badAlg',
        'Weak hash algorithm in timestamp request',
      ],
      [
        'SHA-224',
        encodeRequest({ hashOid: '2.16.840.1.101.3.4.2.4', digest: Buffer.alloc(28) }),
        'badAlg',
        generic,
      ],
      [
        'an unknown hash OID',
        encodeRequest({ hashOid: '1.2.3.4', digest: Buffer.alloc(32) }),
        'badAlg',
        generic,
      ],
      [
        'a 31-byte SHA-256 digest',
        encodeRequest({ digest: Buffer.alloc(31) }),
        'badDataFormat',
        'Message digest has incorrect length for specified algorithm',
      ],
      [
        'an empty digest',
        encodeRequest({ digest: Buffer.alloc(0) }),
        'badDataFormat',
        'Message digest has incorrect length for specified algorithm',
      ],
      [
        'a SHA-512 digest labelled SHA-384',
        encodeRequest({ hash: 'sha384', digest: Buffer.alloc(64) }),
        'badDataFormat',
        'Message digest has incorrect length for specified algorithm',
      ],
      [
        'an unaccepted policy',
        encodeRequest({ policy: '1.2.3.4.5' }),
        'unacceptedPolicy',
        'unaccepted policy: requested TSA policy is not supported by the TSA',
      ],
      [
        'an extension',
        encodeRequest({ extensions: [{ oid: '1.2.3.4', value: Buffer.of(1, 2, 3, 4) }] }),
        'unacceptedExtension',
        'unaccepted extension: requested extensions are not supported by the TSA',
      ],
      ['a 33-octet nonce', encodeRequest({ nonce: 1n << 260n }), 'badDataFormat', generic],
    ] as const)('rejects %s', async (_name, payload, failInfo, message) => {
      const response = await post(payload);
      expect(response.statusCode).toBe(400);
      expect(response.headers['content-type']).toBe('application/timestamp-reply');
      const decoded = decodeResponse(response.rawPayload);
      expect(decoded.status).toBe(2);
      expect(decoded.failInfo).toEqual([failInfo]);
      expect(decoded.statusStrings[0]).toBe(message);
      expect(decoded.tstInfo).toBeUndefined();
    });

    it('accepts a nonce of exactly 32 octets and a hash without NULL parameters', async () => {
      const response = await post(
        encodeRequest({ nonce: (1n << 255n) - 1n, noNullParameters: true }),
      );
      expect(response.statusCode).toBe(200);
    });
  });

  describe('JSON rejections (Go JSON body, same HTTP codes)', () => {
    const postJson = (body: string) =>
      server.app.inject({
        method: 'POST',
        url: '/api/v1/timestamp',
        headers: JSON_CT,
        payload: body,
      });
    const hash = sha256('hello').toString('base64');

    it.each([
      [
        'a body over 1024 bytes',
        JSON.stringify({ artifactHash: hash, hashAlgorithm: 'sha256', pad: 'x'.repeat(1024) }),
        'timestamp request is too large',
      ],
      ['invalid JSON', '{"artifactHash":', 'Error generating timestamp response'],
      ['a JSON array', '[]', 'Error generating timestamp response'],
      [
        'SHA-1',
        JSON.stringify({
          artifactHash: Buffer.alloc(20).toString('base64'),
          hashAlgorithm: 'SHA1',
          tsaPolicyOID: '1.2.3.4',
        }),
        'Weak hash algorithm in timestamp request',
      ],
      [
        'md5',
        JSON.stringify({ artifactHash: hash, hashAlgorithm: 'md5' }),
        'Error generating timestamp response',
      ],
      [
        'an OID of 129 components',
        JSON.stringify({
          artifactHash: hash,
          hashAlgorithm: 'sha256',
          tsaPolicyOID: Array(129).fill('1').join('.'),
        }),
        'OID should be comprised of at most 128 components',
      ],
      [
        'an OID with a bad component',
        JSON.stringify({ artifactHash: hash, hashAlgorithm: 'sha256', tsaPolicyOID: '1..2' }),
        'OID should be comprised of at most 128 components',
      ],
      [
        'a non-base64 hash',
        JSON.stringify({ artifactHash: 'not*base64*encoded', hashAlgorithm: 'sha256' }),
        'Error generating timestamp response',
      ],
      [
        'a wrong digest length',
        JSON.stringify({
          artifactHash: Buffer.alloc(31).toString('base64'),
          hashAlgorithm: 'sha256',
        }),
        'Message digest has incorrect length for specified algorithm',
      ],
      [
        'an unaccepted policy',
        JSON.stringify({ artifactHash: hash, hashAlgorithm: 'sha256', tsaPolicyOID: '1.2.3.4.5' }),
        'unaccepted policy: requested TSA policy is not supported by the TSA',
      ],
      [
        'a negative policy arc',
        JSON.stringify({ artifactHash: hash, hashAlgorithm: 'sha256', tsaPolicyOID: '1.-2.3' }),
        'unaccepted policy: requested TSA policy is not supported by the TSA',
      ],
      [
        'a quoted nonce',
        JSON.stringify({ artifactHash: hash, hashAlgorithm: 'sha256', nonce: '12' }),
        'Error generating timestamp response',
      ],
      [
        'a fractional nonce',
        `{"artifactHash":"${hash}","hashAlgorithm":"sha256","nonce":1.5}`,
        'Error generating timestamp response',
      ],
      [
        'an exponent nonce',
        `{"artifactHash":"${hash}","hashAlgorithm":"sha256","nonce":1e400}`,
        'Error generating timestamp response',
      ],
      [
        'certificates as a string',
        JSON.stringify({ artifactHash: hash, hashAlgorithm: 'sha256', certificates: 'yes' }),
        'Error generating timestamp response',
      ],
    ])('rejects %s', async (_name, body, message) => {
      const response = await postJson(body);
      expect(response.statusCode).toBe(400);
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      expect(response.json()).toEqual({ code: 400, message });
    });

    it('rejects invalid UTF-8', async () => {
      const body = Buffer.concat([
        Buffer.from('{"artifactHash":"'),
        Buffer.of(0xff, 0xfe),
        Buffer.from('"}'),
      ]);
      const response = await server.app.inject({
        method: 'POST',
        url: '/api/v1/timestamp',
        headers: JSON_CT,
        payload: body,
      });
      expect(response.statusCode).toBe(400);
    });

    it('treats __proto__ keys as plain data', async () => {
      const body = `{"__proto__":{"hashAlgorithm":"sha256"},"artifactHash":"${hash}","hashAlgorithm":"sha256"}`;
      const response = await postJson(body);
      expect(response.statusCode).toBe(200);
    });
  });
});

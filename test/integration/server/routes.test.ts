import { X509Certificate } from 'node:crypto';
import { connect } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import type * as pkijs from 'pkijs';
import {
  integer,
  octetString,
  oid,
  oidContent as encodeOid,
  sequence,
} from '../../../src/asn1/der.js';
import { OID } from '../../../src/asn1/oids.js';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import { startServer } from '../../../src/runtime/serve.js';
import { reject, type TimeStampRejection } from '../../../src/tsp/rejection.js';
import { decodeResponse, nonceOf } from '../../helpers/decode.js';
import { encodeTimeStampReq } from '../../helpers/encode-request.js';
import { encodeRequest, sha256 } from '../../helpers/requests.js';
import { createTestServer } from '../../helpers/tsa.js';

type TestServer = Awaited<ReturnType<typeof createTestServer>>;
const TSQ = { 'content-type': 'application/timestamp-query' };
const JSON_CT = { 'content-type': 'application/json' };

/**
 * Sends `request` on a new connection to a started server (inject() cannot send a request
 * line of our own, a header twice or no Host) and resolves with all it answered.
 */
async function overSocket(requests: string[]): Promise<string[]> {
  const listening = await startServer(
    resolveServeConfig({ port: 0, metricsPort: 0, disableNtpMonitoring: true }),
    pino({ level: 'silent' }),
  );
  try {
    const { port } = new URL(listening.url);
    const answers: string[] = [];
    for (const request of requests) {
      answers.push(
        await new Promise<string>((resolve, reject) => {
          const socket = connect(Number(port), '127.0.0.1', () => socket.end(request));
          let text = '';
          socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
          socket.on('end', () => resolve(text));
          socket.on('error', reject);
        }),
      );
    }
    return answers;
  } finally {
    await listening.close();
  }
}

describe('routes', () => {
  let server: TestServer;
  /** What a guard on the servers of 'DER rejections' refuses issuance with, while set. */
  let forced: TimeStampRejection | undefined;
  beforeAll(async () => {
    server = await createTestServer({}, {}, [() => forced]);
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

    it('matches the path case-insensitively with a query string too (Go compares the path only)', async () => {
      const response = await server.app.inject({ method: 'GET', url: '/PING?probe=1' });
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

  describe('GET /api/v1/timestamp/trusted-root', () => {
    const trustedRoot = (app: TestServer['app'], headers: Record<string, string>) =>
      app.inject({ method: 'GET', url: '/api/v1/timestamp/trusted-root', headers });
    const uris = (response: { body: string }) =>
      (
        JSON.parse(response.body) as { timestampAuthorities: { uri?: string }[] }
      ).timestampAuthorities.map((entry) => entry.uri);

    it('names the timestamp URL at the Host the client used, and varies with it', async () => {
      const response = await trustedRoot(server.app, { host: 'TSA.example.com:8443' });
      expect(response.statusCode).toBe(200);
      expect(uris(response)).toEqual(['http://tsa.example.com:8443/api/v1/timestamp']);
      expect(response.headers.vary).toBe('Origin, Host');
      expect(response.headers['cache-control']).toBe('max-age=3600');
      const ipv6 = await trustedRoot(server.app, { host: '[::1]:3000' });
      expect(uris(ipv6)).toEqual(['http://[::1]:3000/api/v1/timestamp']);
    });

    it.each(['tsa.example.com:65536', 'tsa:', '[::1', 'x'.repeat(254)])(
      'refuses a Host that is not host[:port] (%j) with 400, echoing nothing',
      async (host) => {
        const response = await trustedRoot(server.app, { host });
        expect(response.statusCode).toBe(400);
        expect(response.json()).toEqual({
          code: 400,
          message: 'the Host header is not host[:port]',
        });
      },
    );

    it.each(['evil.example"><x', 'a b', 'user@tsa', 'tsa/x'])(
      'refuses a Host of octets no host has (%j) before any route, as Go, echoing nothing',
      async (host) => {
        const response = await trustedRoot(server.app, { host });
        expect(response.statusCode).toBe(400);
        expect(response.json()).toEqual({ code: 400, message: 'malformed Host header' });
      },
    );

    const bodyOf = (received: string) =>
      JSON.parse(received.slice(received.indexOf('\r\n\r\n') + 4)) as {
        timestampAuthorities: { uri?: string }[];
      };

    it('leaves the uri out when the client names no host (HTTP/1.0 without Host)', async () => {
      const [received] = await overSocket(['GET /api/v1/timestamp/trusted-root HTTP/1.0\r\n\r\n']);
      expect(received).toMatch(/^HTTP\/1\.1 200 /);
      const body = bodyOf(received ?? '');
      expect(body.timestampAuthorities).toHaveLength(1);
      expect(body.timestampAuthorities[0]).not.toHaveProperty('uri');
    });

    it.each(['', '/'])(
      'takes the host of an absolute-form request-target, not Host (RFC 9112 section 3.2.2, as Go), its path cleaned or not (%j)',
      async (trailing) => {
        const answers = await overSocket([
          `GET http://TSA.example.com:8080/api/v1/timestamp/trusted-root${trailing} HTTP/1.1\r\nHost: other.example\r\n\r\n`,
          `GET http://user@tsa/api/v1/timestamp/trusted-root${trailing} HTTP/1.1\r\nHost: tsa\r\n\r\n`,
        ]);
        expect(bodyOf(answers[0] ?? '').timestampAuthorities.map((entry) => entry.uri)).toEqual([
          'http://tsa.example.com:8080/api/v1/timestamp',
        ]);
        expect(answers[1]).toMatch(/^HTTP\/1\.1 400 /);
        expect(answers[1]).toContain('the Host header is not host[:port]');
      },
    );

    it('matches /ping without case in an absolute-form request-target too, as Go does', async () => {
      const answers = await overSocket([
        'GET http://tsa.example.com/PING HTTP/1.1\r\nHost: tsa.example.com\r\n\r\n',
        'GET http://tsa.example.com/Ping?probe=1 HTTP/1.1\r\nHost: tsa.example.com\r\n\r\n',
      ]);
      for (const received of answers) {
        expect(received).toMatch(/^HTTP\/1\.1 200 /);
        expect(received).toMatch(/\r\n\r\n\.$/);
      }
    });

    it('answers OPTIONS * (about the server, RFC 9110 section 9.3.7) 200 and empty, as Go does', async () => {
      const [options, get] = await overSocket([
        'OPTIONS * HTTP/1.1\r\nHost: tsa\r\n\r\n',
        'GET * HTTP/1.1\r\nHost: tsa\r\n\r\n',
      ]);
      expect(options).toMatch(/^HTTP\/1\.1 200 /);
      expect(options).toMatch(/\r\ncontent-length: 0\r\n/i);
      expect(get).toMatch(/^HTTP\/1\.1 404 /);
    });

    it('refuses a request with two Host headers with 400, over a real socket', async () => {
      // Node keeps the first Host, RFC 9112 asks for 400.
      const hostPairs = [
        'Host: tsa.example.com\r\nHost: evil.example\r\n',
        'Host: tsa.example.com\r\nhOST: tsa.example.com\r\n',
        'Host: tsa.example.com\r\n',
      ];
      const answers = await overSocket(
        hostPairs.map((hosts) => `GET /api/v1/timestamp/trusted-root HTTP/1.1\r\n${hosts}\r\n`),
      );
      for (const received of answers.slice(0, 2)) {
        expect(received).toMatch(/^HTTP\/1\.1 400 /);
        // Before any route, as Go refuses it.
        expect(received).toContain('{"code":400,"message":"too many Host headers"}');
        expect(received).not.toContain('example');
      }
      expect(answers[2]).toMatch(/^HTTP\/1\.1 200 /);
    });

    it('from a trusted proxy, checks X-Forwarded-Host the same way and varies with it', async () => {
      const { app } = await createTestServer({ trustedProxies: ['127.0.0.1'] });
      const forwarded = await trustedRoot(app, {
        host: 'internal:3000',
        'x-forwarded-host': 'tsa.example.com',
        'x-forwarded-proto': 'https',
      });
      expect(uris(forwarded)).toEqual(['https://tsa.example.com/api/v1/timestamp']);
      expect(forwarded.headers.vary).toBe('Origin, Host, X-Forwarded-Host, X-Forwarded-Proto');
      const refused = await trustedRoot(app, {
        host: 'internal:3000',
        'x-forwarded-host': 'evil"',
      });
      expect(refused.statusCode).toBe(400);
    });
  });

  describe('GET /api/v1/timestamp/certchain', () => {
    it('serves the PEM chain leaf to root, cached for an hour, not immutable', async () => {
      const response = await server.app.inject({
        method: 'GET',
        url: '/api/v1/timestamp/certchain',
      });
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toBe('application/pem-certificate-chain');
      // Not Go's `max-age=86400, immutable`: a key rotation changes the chain at this URL.
      expect(response.headers['cache-control']).toBe('max-age=3600');
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

    it('takes a request ID of up to 128 visible characters, and makes its own for any other', async () => {
      const idOf = async (given: string) => {
        const response = await server.app.inject({
          method: 'POST',
          url: '/api/v1/timestamp',
          headers: { ...TSQ, 'x-request-id': given },
          payload: encodeRequest(),
        });
        expect(response.statusCode).toBe(200);
        return response.headers['x-request-id'];
      };
      const longest = `host/${'a'.repeat(123)}`;
      expect(await idOf(longest)).toBe(longest);
      const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
      // Too long (it would fill every log and audit line of the request), or with a space.
      for (const refused of [`${longest}b`, 'two words', '"status":"granted"'.repeat(2000)])
        expect(await idOf(refused)).toMatch(uuid);
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
      // Quoted: a "/" in a bare value is a parse error in Go (400, below).
      ['multipart/form-data; boundary="application/json"', 'multipart/form-data'],
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
      // Go's NoCache wraps the route, its body parsing included.
      expect(response.headers.pragma).toBe('no-cache');
      expect(response.json()).toEqual({
        code: 415,
        message: `unsupported media type "${shown}", only [application/timestamp-query application/json] are allowed`,
      });
    });

    it.each([
      ['application/timestamp-query;;;', 'mime: invalid media parameter'],
      ['application/timestamp-query; charset', 'mime: invalid media parameter'],
      ['application/json, text/plain', 'mime: unexpected content after media subtype'],
      ['application/', 'mime: expected token after slash'],
      ['/', 'mime: no media type'],
    ])(
      'refuses Content-Type %s, which Go cannot parse, with its 400',
      async (contentType, reason) => {
        const response = await server.app.inject({
          method: 'POST',
          url: '/api/v1/timestamp',
          headers: { 'content-type': contentType },
          payload: encodeRequest(),
        });
        expect(response.statusCode).toBe(400);
        expect(response.headers.pragma).toBe('no-cache');
        expect(response.json()).toEqual({
          code: 400,
          message: `parsing Content-Type header from ${JSON.stringify(contentType)} failed, because ${reason}`,
        });
      },
    );

    it('refuses an unparsable Content-Type before the body is read: not 413 for a large one', async () => {
      const { app } = await createTestServer({ maxRequestBodySize: 100 });
      const response = await app.inject({
        method: 'POST',
        url: '/api/v1/timestamp',
        headers: { 'content-type': 'application/timestamp-query;;;' },
        payload: Buffer.alloc(101),
      });
      expect(response.statusCode).toBe(400);
    });

    it('reads a request whose Content-Type has parameters Go accepts', async () => {
      for (const contentType of [
        'application/timestamp-query;',
        'application/timestamp-query; a=b; A="b"',
        'Application/Timestamp-Query ; x="a\\b"',
      ]) {
        const response = await server.app.inject({
          method: 'POST',
          url: '/api/v1/timestamp',
          headers: { 'content-type': contentType },
          payload: encodeRequest(),
        });
        expect(response.statusCode, contentType).toBe(200);
        expect(decodeResponse(response.rawPayload).status, contentType).toBe(0);
      }
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
      expect(response.headers['cache-control']).toBe(
        'no-cache, no-store, no-transform, must-revalidate, private, max-age=0',
      );
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

    it.each([
      ['PUT', '/ping', 'text/plain', Buffer.from('abc'), 'GET, HEAD'],
      ['POST', '/ping', 'application/json', Buffer.from('{}'), 'GET, HEAD'],
      [
        'DELETE',
        '/api/v1/timestamp/certchain',
        'application/json',
        Buffer.alloc(2 * 1024 * 1024, 0x20),
        'GET, HEAD',
      ],
      ['PUT', '/api/v1/timestamp', 'application/octet-stream', Buffer.from('abc'), 'POST'],
    ] as const)(
      '%s %s with a %s body is 405, before the body is read (not 415 or 413)',
      async (method, url, type, payload, allow) => {
        const response = await server.app.inject({
          method,
          url,
          headers: { 'content-type': type },
          payload,
        });
        expect(response.statusCode).toBe(405);
        expect(response.headers.allow).toBe(allow);
      },
    );

    it('refuses a method on a known path with a query string too', async () => {
      const response = await server.app.inject({ method: 'TRACE', url: '/api/v1/timestamp?x=1' });
      expect(response.statusCode).toBe(405);
      expect(response.headers.allow).toBe('POST');
    });

    it.each(methods)('%s on an unknown path stays 404', async (method) => {
      const response = await server.app.inject({ method, url: '/api/v1/timestamps' });
      expect(response.statusCode).toBe(404);
      expect(response.headers.allow).toBeUndefined();
    });
  });

  describe("paths cleaned as go-openapi's router cleans them (Go's path.Clean)", () => {
    it.each([
      '/api/v1/timestamp/',
      '//api/v1/timestamp',
      '/api/v1/./timestamp',
      '/api/v1/x/../timestamp',
      '/api/v1/timestamp/?x=1',
    ])('POST %s issues a token', async (url) => {
      const response = await server.app.inject({
        method: 'POST',
        url,
        headers: TSQ,
        payload: encodeRequest(),
      });
      expect(response.statusCode).toBe(200);
      expect(decodeResponse(response.rawPayload).status).toBe(0);
    });

    it('serves GET /api/v1/timestamp/certchain/ and refuses GET /api/v1/timestamp/ with 405', async () => {
      const chain = await server.app.inject({ method: 'GET', url: '/api/v1/timestamp/certchain/' });
      expect(chain.statusCode).toBe(200);
      expect(chain.body).toContain('-----BEGIN CERTIFICATE-----');
      const get = await server.app.inject({ method: 'GET', url: '/api/v1/timestamp/' });
      expect([get.statusCode, get.headers.allow]).toEqual([405, 'POST']);
    });

    it.each(['/ping/', '//ping'])(
      'does not clean for /ping, which chi Heartbeat answers before the router: %s is 404',
      async (url) => {
        const response = await server.app.inject({ method: 'GET', url });
        expect(response.statusCode).toBe(404);
        expect(response.json()).toEqual({ code: 404, message: `path ${url} was not found` });
      },
    );

    it('cleans dot segments, which only a raw request line carries (inject resolves them)', async () => {
      const answers = await overSocket(
        ['/api/v1/./timestamp/certchain', '/api/v1/x/../timestamp/certchain', '/./PING'].map(
          (path) => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
        ),
      );
      expect(answers.map((answer) => answer.slice(0, answer.indexOf('\r\n')))).toEqual([
        'HTTP/1.1 200 OK',
        'HTTP/1.1 200 OK',
        'HTTP/1.1 404 Not Found',
      ]);
      expect(answers[2]).toContain('{"code":404,"message":"path /./PING was not found"}');
    });

    it("says an unknown path as sent in the 404, as Go's r.URL.Path", async () => {
      const response = await server.app.inject({ method: 'GET', url: '/api/v1//nothing/' });
      expect(response.json()).toEqual({
        code: 404,
        message: 'path /api/v1//nothing/ was not found',
      });
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
    let goServer: TestServer;
    beforeAll(async () => {
      goServer = await createTestServer({ derRejectionStatus: 'go' }, {}, [() => forced]);
    });
    const postGo = (payload: Buffer) =>
      goServer.app.inject({ method: 'POST', url: '/api/v1/timestamp', headers: TSQ, payload });
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
      // Refused by Go's parser, before any rule: its generic message, SHA-1 or not.
      ['an empty digest', encodeRequest({ digest: Buffer.alloc(0) }), 'badDataFormat', generic],
      [
        'an empty SHA-1 digest',
        encodeRequest({ hashOid: '1.3.14.3.2.26', digest: Buffer.alloc(0) }),
        'badDataFormat',
        generic,
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
      ['a 66-octet nonce', encodeRequest({ nonce: 1n << 520n }), 'badDataFormat', generic],
      [
        'hash parameters other than NULL',
        sequence(
          integer(1),
          sequence(sequence(oid(OID.sha256), oid('1.2.3')), octetString(sha256('hello'))),
        ),
        'badAlg',
        generic,
      ],
    ] as const)('rejects %s', async (_name, payload, failInfo, message) => {
      // Default (--der-rejection-status=rfc): HTTP 200; with =go the Go server's 400. Same body.
      const responses = [await post(payload), await postGo(payload)];
      expect(responses.map((response) => response.statusCode)).toEqual([200, 400]);
      for (const response of responses) {
        expect(response.headers['content-type']).toBe('application/timestamp-reply');
        const decoded = decodeResponse(response.rawPayload);
        expect(decoded.status).toBe(2);
        expect(decoded.failInfo).toEqual([failInfo]);
        expect(decoded.statusStrings[0]).toBe(message);
        expect(decoded.tstInfo).toBeUndefined();
      }
    });

    it('keeps 503 + Retry-After and 500 for DER clients in both modes', async () => {
      const cases = [
        [reject.timeNotAvailable('clock drifted'), 503, 'timeNotAvailable'],
        [reject.systemFailure(), 500, 'systemFailure'],
      ] as const;
      try {
        for (const [rejection, status, failInfo] of cases) {
          forced = rejection;
          for (const response of [await post(valid), await postGo(valid)]) {
            expect(response.statusCode).toBe(status);
            if (status === 503) expect(response.headers['retry-after']).toBe('10');
            expect(decodeResponse(response.rawPayload).failInfo).toEqual([failInfo]);
          }
        }
      } finally {
        forced = undefined;
      }
    });

    it.each([
      ['33 octets (a 256-bit nonce with its top bit set)', (1n << 256n) - 1n],
      ['exactly 64 octets', (1n << 511n) - 1n],
      ['65 octets (a 512-bit nonce with its top bit set)', (1n << 512n) - 1n],
    ])('accepts and echoes a nonce of %s', async (_name, nonce) => {
      const response = await post(encodeRequest({ nonce }));
      expect(response.statusCode).toBe(200);
      const tstInfo = decodeResponse(response.rawPayload).tstInfo as pkijs.TSTInfo;
      expect(nonceOf(tstInfo)).toBe(nonce);
    });

    it.each([
      ['absent', true, '300b0609608648016503040201'],
      ['NULL', false, '300d06096086480165030402010500'],
    ])(
      'copies the messageImprint byte for byte: %s parameters stay so',
      async (_name, noNullParameters, algorithmHex) => {
        const request = encodeRequest({ noNullParameters });
        const response = await post(request);
        expect(response.statusCode).toBe(200);
        const { tstInfoDer } = decodeResponse(response.rawPayload);
        const imprint = Buffer.concat([
          Buffer.from(algorithmHex, 'hex'),
          Buffer.of(0x04, 0x20),
          sha256('hello'),
        ]);
        const expected = Buffer.concat([Buffer.of(0x30, imprint.length), imprint]);
        expect(request.includes(expected)).toBe(true);
        expect(Buffer.from(tstInfoDer as Uint8Array).includes(expected)).toBe(true);
      },
    );
  });

  describe('extensions', () => {
    const QC = '1.3.6.1.5.5.7.1.3';
    const ext = (oid: string, critical?: boolean) => ({
      oid: encodeOid(oid),
      ...(critical === undefined ? {} : { critical }),
      value: Buffer.of(0x04, 0x01, 0x2a),
    });
    // esi4-qtstStatement-1 (0.4.0.19422.1.1) in a QCStatements SEQUENCE: the eIDAS qualified claim.
    const qcValue = sequence(sequence(oid(OID.esi4QtstStatement1)));
    const requestWith = (extensions: Parameters<typeof encodeTimeStampReq>[0]['extensions']) =>
      encodeTimeStampReq({
        version: 1n,
        hashAlgorithmOid: encodeOid('2.16.840.1.101.3.4.2.1'),
        hashParametersNull: true,
        hashedMessage: sha256('hello'),
        ...(extensions ? { extensions } : {}),
      });
    let listed: TestServer;
    let anyOid: TestServer;
    beforeAll(async () => {
      listed = await createTestServer({ acceptedExtensionOids: ['1.2.3.4', '2.999.5'] });
      anyOid = await createTestServer({ allowCustomExtensions: true });
    });
    const send = (tsa: TestServer, payload: Buffer) =>
      tsa.app.inject({ method: 'POST', url: '/api/v1/timestamp', headers: TSQ, payload });

    it.each([
      ['a critical extension on the allow-list', [ext('1.2.3.4', true)]],
      ['an unknown critical extension', [ext('1.9.9.9', true)]],
      ['a duplicate extension OID', [ext('1.2.3.4'), ext('1.2.3.4')]],
      ['an explicit critical FALSE (not DER)', [ext('1.2.3.4', false)]],
      ['qcStatements claiming esi4-qtstStatement-1', [{ oid: encodeOid(QC), value: qcValue }]],
    ])('refuses %s with unacceptedExtension, whatever is allowed', async (_name, extensions) => {
      for (const tsa of [server, listed, anyOid]) {
        const response = await send(tsa, requestWith(extensions));
        const decoded = decodeResponse(response.rawPayload);
        expect(decoded.status).toBe(2);
        expect(decoded.failInfo).toEqual(['unacceptedExtension']);
      }
    });

    it('copies a non-critical extension on the allow-list and refuses one that is not', async () => {
      const granted = decodeResponse(
        (await send(listed, requestWith([ext('1.2.3.4')]))).rawPayload,
      );
      expect(granted.status).toBe(0);
      expect(granted.tstInfo?.extensions?.map((e) => e.extnID)).toEqual(['1.2.3.4']);
      const refused = decodeResponse(
        (await send(listed, requestWith([ext('1.2.3.5')]))).rawPayload,
      );
      expect(refused.failInfo).toEqual(['unacceptedExtension']);
    });

    it('--allow-custom-extensions copies non-critical extensions of any OID', async () => {
      const extensions = [ext('1.2.3.5'), ext('2.999.1')];
      const decoded = decodeResponse((await send(anyOid, requestWith(extensions))).rawPayload);
      expect(decoded.status).toBe(0);
      expect(decoded.tstInfo?.extensions?.map((e) => [e.extnID, e.critical])).toEqual([
        ['1.2.3.5', false],
        ['2.999.1', false],
      ]);
    });

    it('--allow-custom-extensions warns once at start-up, naming what it allows', async () => {
      const lines: string[] = [];
      const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
      const running = await startServer(
        resolveServeConfig({
          port: 0,
          metricsPort: 0,
          disableNtpMonitoring: true,
          allowCustomExtensions: true,
        }),
        logger,
      );
      await running.close();
      const warnings = lines
        .map((line) => JSON.parse(line) as { level: number; msg: string })
        .filter((line) => line.msg.includes('--allow-custom-extensions'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]?.level).toBe(40);
      expect(warnings[0]?.msg).toMatch(/any non-critical request extension, whatever its OID/);
      expect(warnings[0]?.msg).toMatch(/except qcStatements \(1\.3\.6\.1\.5\.5\.7\.1\.3\)/);
    });

    it('refuses qcStatements in --accepted-extension-oids at start-up', async () => {
      await expect(createTestServer({ acceptedExtensionOids: [QC] })).rejects.toThrow(
        /qcStatements .* are never accepted/,
      );
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
        'an OID of 130 components (Go refuses more than 128 dots)',
        JSON.stringify({
          artifactHash: hash,
          hashAlgorithm: 'sha256',
          tsaPolicyOID: Array(130).fill('1').join('.'),
        }),
        'OID should be comprised of at most 128 components',
      ],
      [
        'an OID of 129 components: read, then not an accepted policy',
        JSON.stringify({
          artifactHash: hash,
          hashAlgorithm: 'sha256',
          tsaPolicyOID: Array(129).fill('1').join('.'),
        }),
        'unaccepted policy: requested TSA policy is not supported by the TSA',
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

    it("answers an empty body as Go does: 422 with go-openapi's validation code 602", async () => {
      const response = await postJson('');
      expect(response.statusCode).toBe(422);
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      expect(response.json()).toEqual({ code: 602, message: 'request in body is required' });
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

    it('accepts 256- and 512-bit nonces with their top bit set (33 and 65 octets), refuses 66 octets', async () => {
      for (const nonce of [(1n << 256n) - 1n, (1n << 512n) - 1n]) {
        const response = await postJson(
          `{"artifactHash":"${hash}","hashAlgorithm":"sha256","nonce":${nonce}}`,
        );
        expect(response.statusCode).toBe(200);
        expect(nonceOf(decodeResponse(response.rawPayload).tstInfo as pkijs.TSTInfo)).toBe(nonce);
      }
      const refused = await postJson(
        `{"artifactHash":"${hash}","hashAlgorithm":"sha256","nonce":${1n << 520n}}`,
      );
      expect(refused.statusCode).toBe(400);
      expect(refused.json()).toEqual({ code: 400, message: 'Error generating timestamp response' });
    });

    it.each(['__proto__', 'constructor', 'toString'])(
      'refuses hashAlgorithm %s as an unsupported hash (400 badAlg), not a 500',
      async (name) => {
        const response = await postJson(
          JSON.stringify({ artifactHash: hash, hashAlgorithm: name }),
        );
        expect(response.statusCode).toBe(400);
        expect(response.json()).toEqual({
          code: 400,
          message: 'Error generating timestamp response',
        });
      },
    );

    it('treats __proto__ keys as plain data', async () => {
      const body = `{"__proto__":{"hashAlgorithm":"sha256"},"artifactHash":"${hash}","hashAlgorithm":"sha256"}`;
      const response = await postJson(body);
      expect(response.statusCode).toBe(200);
    });
  });
});

import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { connect, constants } from 'node:http2';
import { request, type RequestOptions } from 'node:https';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import type { FastifyBaseLogger } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import type { ServeOptionName } from '../../../src/config/schema.js';
import { PING_ONLY_MESSAGE } from '../../../src/server/ping-only.js';
import { startServer, type RunningServer } from '../../../src/runtime/serve.js';
import {
  CONNECTION_PREFACE,
  FRAME,
  headerBlockFrames,
  hpackGet,
  openH2Socket,
  hpackLiteral,
  http2Frame,
} from '../../helpers/http2-frames.js';
import { parseDockerfile } from '../../helpers/dockerfile.js';
import { renderKustomization } from '../../helpers/kustomize.js';
import { openssl, tempDir } from '../../helpers/openssl.js';
import { UNTIL_SETTLED } from '../../helpers/poll.js';
import { childEnvironment } from '../../helpers/process.js';
import { watch } from '../../helpers/slow-client.js';
import { silentLogger } from '../../helpers/tsa.js';
import { REPO_ROOT } from '../../helpers/spawn-server.js';
import { helloTimeStampReq } from '../../loadtest/request.js';

const dir = tempDir();
const pki = {
  ca: dir.path('ca.pem'),
  cert: dir.path('server.pem'),
  key: dir.path('server.key'),
  clientCert: dir.path('client.pem'),
  clientKey: dir.path('client.key'),
};

/** A CA, a server certificate for 127.0.0.1 and a client certificate, made by openssl. */
async function makePki(): Promise<void> {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await openssl([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    dir.path('ca.key'),
    '-out',
    pki.ca,
    '-subj',
    '/CN=test CA',
    '-days',
    '2',
  ]);
  for (const [name, cert, key, ext] of [
    ['127.0.0.1', pki.cert, pki.key, 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth'],
    ['client', pki.clientCert, pki.clientKey, 'extendedKeyUsage=clientAuth'],
  ] as const) {
    await openssl([
      'req',
      '-new',
      ...ec,
      '-keyout',
      key,
      '-out',
      dir.path(`${name}.csr`),
      '-subj',
      `/CN=${name}`,
    ]);
    const extFile = dir.write(`${name}.ext`, ext);
    await openssl([
      'x509',
      '-req',
      '-in',
      dir.path(`${name}.csr`),
      '-CA',
      pki.ca,
      '-CAkey',
      dir.path('ca.key'),
      '-CAcreateserial',
      '-out',
      cert,
      '-days',
      '2',
      '-extfile',
      extFile,
    ]);
  }
}

const start = async (
  flags: Partial<Record<ServeOptionName, unknown>>,
  logger: FastifyBaseLogger = silentLogger,
) =>
  startServer(
    resolveServeConfig({
      port: 0,
      metricsPort: 0,
      disableNtpMonitoring: true,
      tlsPort: 0,
      ...flags,
    }),
    logger,
  );

/** One POST over HTTP/2; resolves with status, ALPN protocol and body. */
function postHttp2(url: string, body: Buffer) {
  return new Promise<{ status: number; alpn: string | false | undefined; body: Buffer }>(
    (resolve, reject) => {
      const session = connect(url, { ca: readFileSync(pki.ca) });
      session.on('error', reject);
      const stream = session.request({
        [constants.HTTP2_HEADER_METHOD]: 'POST',
        [constants.HTTP2_HEADER_PATH]: '/api/v1/timestamp',
        'content-type': 'application/timestamp-query',
      });
      const chunks: Buffer[] = [];
      let status = 0;
      stream.on('response', (headers) => (status = Number(headers[constants.HTTP2_HEADER_STATUS])));
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        resolve({ status, alpn: session.alpnProtocol, body: Buffer.concat(chunks) });
        session.close();
      });
      stream.on('error', reject);
      stream.end(body);
    },
  );
}

/** GETs on one HTTP/2 session, one after the other: each one's status, body and RST_STREAM code. */
function getHttp2(url: string, requests: { path: string; headers?: Record<string, string> }[]) {
  const session = connect(url, { ca: readFileSync(pki.ca) });
  session.on('error', () => undefined);
  const one = ({ path, headers = {} }: (typeof requests)[number]) =>
    new Promise<{ status: number; body: string; rstCode: number | undefined }>((resolve) => {
      const stream = session.request({ [constants.HTTP2_HEADER_PATH]: path, ...headers });
      let status = 0;
      let body = '';
      stream.on('response', (head) => (status = Number(head[constants.HTTP2_HEADER_STATUS])));
      stream.on('data', (chunk: Buffer) => (body += chunk.toString()));
      stream.on('error', () => undefined);
      stream.on('close', () => resolve({ status, body, rstCode: stream.rstCode }));
    });
  return (async () => {
    const answers = [];
    for (const request of requests) answers.push(await one(request));
    return answers;
  })().finally(() => session.close());
}

/** One HTTPS/1.1 request; the client certificate is optional. */
function getHttps(url: string, path: string, client?: { cert: Buffer; key: Buffer }) {
  return new Promise<{ status: number; alpn: string | false | null; body: string }>(
    (resolve, reject) => {
      const req = request(
        new URL(path, url),
        {
          ca: readFileSync(pki.ca),
          ALPNProtocols: ['http/1.1'],
          agent: false,
          ...client,
        } as RequestOptions,
        (res) => {
          let body = '';
          const alpn = (res.socket as TLSSocket).alpnProtocol;
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, alpn, body }));
        },
      );
      req.on('error', reject);
      req.end();
    },
  );
}

beforeAll(makePki);
afterAll(() => dir.cleanup());

describe('HTTPS listener', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await start({ tlsCertificate: pki.cert, tlsKey: pki.key });
  });
  afterAll(() => server.close());

  it('issues tokens over HTTP/2 (ALPN h2)', async () => {
    expect(server.tlsUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const response = await postHttp2(server.tlsUrl ?? '', helloTimeStampReq());
    expect(response.status).toBe(200);
    expect(response.alpn).toBe('h2');
    const tsr = dir.write('h2.tsr', response.body);
    expect(await openssl(['ts', '-reply', '-in', tsr, '-text'])).toContain('Status: Granted.');
  });

  it('speaks HTTP/1.1 to clients without h2, and curl --http2 negotiates h2', async () => {
    const response = await getHttps(server.tlsUrl ?? '', '/api/v1/timestamp/certchain');
    expect(response).toMatchObject({ status: 200, alpn: 'http/1.1' });
    expect(response.body).toContain('-----BEGIN CERTIFICATE-----');
    // No ~/.curlrc of the developer's (childEnvironment's HOME has none).
    const { stdout } = await promisify(execFile)(
      'curl',
      [
        '-sS',
        '--http2',
        '--cacert',
        pki.ca,
        '-o',
        '/dev/null',
        '-w',
        '%{http_version} %{http_code}',
        `${server.tlsUrl}/ping`,
      ],
      { env: childEnvironment() },
    );
    expect(stdout).toBe('2 200');
  });

  it('refuses a client-initiated TLS 1.2 renegotiation (a full handshake each), as Go never renegotiates', async () => {
    const { port } = new URL(server.tlsUrl ?? '');
    const socket = tlsConnect({
      host: '127.0.0.1',
      port: Number(port),
      ca: readFileSync(pki.ca),
      maxVersion: 'TLSv1.2',
      ALPNProtocols: ['http/1.1'],
    });
    try {
      await once(socket, 'secureConnect');
      // The server's no_renegotiation alert ends the connection with an error; an accepted
      // renegotiation calls back without one.
      const refused = await new Promise<unknown>((resolve) => {
        socket.once('error', resolve);
        if (!socket.renegotiate({}, resolve)) resolve(new Error('renegotiate() refused to start'));
      });
      expect(refused).toMatchObject({ code: expect.stringMatching(/RENEGOTIATION/) });
    } finally {
      socket.destroy();
    }
  });

  it('answers 431 to HTTP/2 headers over --max-header-size sent before SETTINGS are acknowledged', async () => {
    // Node applies its advertised limit only once the client acknowledges the server's SETTINGS:
    // a client's first flight (curl's one request) went through with up to 64 KiB of headers.
    const connection = watch(await openH2Socket(server.tlsUrl ?? '', readFileSync(pki.ca)));
    const certchain = hpackGet('/api/v1/timestamp/certchain');
    // RFC 9113 counts each field's name and value plus 32 octets: the four pseudo-headers take
    // 195, x-big 37 plus its value; --max-header-size is 16384 by default.
    const withBig = (octets: number) =>
      Buffer.concat([certchain, hpackLiteral('x-big', 'a'.repeat(octets))]);
    connection.socket.write(
      Buffer.concat([
        CONNECTION_PREFACE,
        http2Frame(FRAME.settings, 0, 0, []),
        headerBlockFrames(1, withBig(16_384 - 195 - 37 + 1)),
        headerBlockFrames(3, withBig(60_000)),
        headerBlockFrames(5, withBig(16_384 - 195 - 37)),
      ]),
    );
    const refusal = '{"code":431,"message":"request headers are larger than 16384 bytes"}';
    try {
      // Two refusals, and the chain for the request at the limit.
      await expect
        .poll(
          () => ({
            refusals: connection.received().split(refusal).length - 1,
            chain: connection.received().includes('-----END CERTIFICATE-----'),
          }),
          UNTIL_SETTLED,
        )
        .toEqual({ refusals: 2, chain: true });
    } finally {
      connection.socket.destroy();
    }
  });

  it('serves HTTP/2 headers within --max-header-size; Node resets larger ones once acknowledged', async () => {
    const answers = await getHttp2(server.tlsUrl ?? '', [
      { path: '/api/v1/timestamp/certchain', headers: { 'x-big': 'a'.repeat(8_000) } },
      { path: '/api/v1/timestamp/certchain', headers: { 'x-big': 'a'.repeat(20_000) } },
      { path: '/ping' },
    ]);
    expect(answers.map(({ status, rstCode }) => [status, rstCode])).toEqual([
      [200, constants.NGHTTP2_NO_ERROR],
      [0, constants.NGHTTP2_ENHANCE_YOUR_CALM],
      [200, constants.NGHTTP2_NO_ERROR],
    ]);
  });

  it("answers plain HTTP sent to the HTTPS port with Go's 400, byte for byte, and keeps serving", async () => {
    const { port } = new URL(server.tlsUrl ?? '');
    const socket = createConnection(Number(port), '127.0.0.1');
    socket.end('GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    await once(socket, 'close');
    expect(Buffer.concat(chunks).toString('latin1')).toBe(
      'HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n',
    );
    expect(await getHttps(server.tlsUrl ?? '', '/ping')).toMatchObject({ status: 200 });
  });

  it('keeps the plain HTTP listener serving timestamps', async () => {
    const response = await fetch(`${server.url}/api/v1/timestamp`, {
      method: 'POST',
      headers: { 'content-type': 'application/timestamp-query' },
      body: helloTimeStampReq(),
    });
    expect(response.status).toBe(200);
  });
});

describe('mutual TLS (--tls-ca)', () => {
  let server: RunningServer;
  const lines: { msg: string; reason?: string; failedSinceLastReport?: number }[] = [];
  beforeAll(async () => {
    const logger = pino(
      { level: 'info' },
      { write: (line: string) => lines.push(JSON.parse(line)) },
    );
    server = await start({ tlsCertificate: pki.cert, tlsKey: pki.key, tlsCa: pki.ca }, logger);
  });
  afterAll(() => server.close());

  it('refuses a client without a certificate; counts it, and says it once a minute', async () => {
    const refused = async () =>
      Number(
        /^timestamp_authority_tls_handshake_failures_total\{reason="client_certificate"\} (\d+)$/m.exec(
          await (await fetch(server.metricsUrl)).text(),
        )?.[1],
      );
    const before = await refused();
    for (let i = 0; i < 2; i++) {
      await expect(getHttps(server.tlsUrl ?? '', '/ping')).rejects.toThrow(
        /certificate|socket hang up|ECONNRESET/i,
      );
    }
    await expect.poll(refused, UNTIL_SETTLED).toBe(before + 2);
    expect(lines.filter((line) => line.msg.startsWith('TLS handshake failed'))).toEqual([
      expect.objectContaining({
        msg: 'TLS handshake failed: a client certificate was missing or not trusted by --tls-ca',
        reason: 'client_certificate',
      }),
    ]);
  });

  it('serves a client with a certificate the CA issued', async () => {
    const response = await getHttps(server.tlsUrl ?? '', '/ping', {
      cert: readFileSync(pki.clientCert),
      key: readFileSync(pki.clientKey),
    });
    expect(response).toMatchObject({ status: 200, body: '.' });
  });
});

describe('--http-ping-only', () => {
  let server: RunningServer;
  const lines: string[] = [];
  beforeAll(async () => {
    server = await startServer(
      resolveServeConfig({
        port: 0,
        metricsPort: 0,
        disableNtpMonitoring: true,
        tlsPort: 0,
        tlsCertificate: pki.cert,
        tlsKey: pki.key,
        httpPingOnly: true,
      }),
      pino({ level: 'info' }, { write: (line: string) => lines.push(line) }),
    );
  });

  it('says so when it starts: the plain-HTTP listener serves /ping and the probes only', () => {
    const messages = lines.map((line) => (JSON.parse(line) as { msg: string }).msg);
    expect(messages).toContain(
      `serving /ping and the health probes only (--http-ping-only) on ${server.url}`,
    );
    expect(messages.some((message) => message.startsWith('serving timestamps on'))).toBe(false);
  });
  afterAll(() => server.close());

  it('answers only /ping (and the probes) over plain HTTP, as Go does', async () => {
    expect((await fetch(`${server.url}/ping`)).status).toBe(200);
    for (const path of ['/api/v1/timestamp/certchain', '/openapi.yaml', '/nowhere']) {
      const response = await fetch(`${server.url}${path}`);
      expect(response.status).toBe(404);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(await response.text()).toBe(PING_ONLY_MESSAGE);
    }
  });

  it('answers the health probes that the image and the Kubernetes manifests send to this port', async () => {
    const healthcheck = parseDockerfile(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'))
      .find((stage) => stage.name === 'deploy')
      ?.instructions.find((item) => item.keyword === 'HEALTHCHECK')?.args;
    const [container] = (
      renderKustomization(join(REPO_ROOT, 'deploy', 'kubernetes', 'base')).find(
        (object) => object.kind === 'Deployment',
      ) as unknown as {
        spec: {
          template: { spec: { containers: Record<string, { httpGet?: { path: string } }>[] } };
        };
      }
    ).spec.template.spec.containers;
    const probes = ['startupProbe', 'livenessProbe', 'readinessProbe'].map(
      (probe) => container?.[probe]?.httpGet?.path,
    );
    const paths = [...new Set([...probes, /'(\/\w+)'\)/.exec(healthcheck ?? '')?.[1]])];
    expect(paths.sort()).toEqual(['/livez', '/readyz']);
    for (const path of paths) {
      const response = await fetch(`${server.url}${path}`);
      expect(response.status, path).toBe(200);
      expect(await response.text(), path).toBe('ok');
    }
  });

  it('leaves the HTTPS listener whole', async () => {
    expect((await getHttps(server.tlsUrl ?? '', '/api/v1/timestamp/certchain')).status).toBe(200);
  });
});

describe('TLS configuration errors stop start-up', () => {
  it('needs both certificate and key', async () => {
    await expect(start({ tlsCertificate: pki.cert })).rejects.toThrow(
      'the required flags `--tls-certificate` and `--tls-key` were not specified',
    );
  });

  it("refuses a key that is not the certificate's, before any listener starts", async () => {
    const other = tempDir();
    try {
      const otherKey = other.write(
        'other.key',
        generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
          type: 'pkcs8',
          format: 'pem',
        }),
      );
      await expect(start({ tlsCertificate: pki.cert, tlsKey: otherKey })).rejects.toMatchObject({
        code: 'TLS_KEY_MISMATCH',
        message: `--tls-key ${otherKey} is not the key of --tls-certificate ${pki.cert}`,
      });
    } finally {
      other.cleanup();
    }
  });

  it('names the file of a broken later block, and a leaf that is not first, before any listener starts', async () => {
    const leaf = readFileSync(pki.cert, 'utf8');
    const ca = readFileSync(pki.ca, 'utf8');
    const broken = dir.write(
      'broken-chain.pem',
      `${leaf}-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n`,
    );
    await expect(start({ tlsCertificate: broken, tlsKey: pki.key })).rejects.toMatchObject({
      code: 'INVALID_TLS_CERTIFICATE',
      message: expect.stringMatching(new RegExp(`^cannot use TLS certificate ${broken}: .+`)),
    });
    const reversed = dir.write('reversed-chain.pem', `${ca}${leaf}`);
    await expect(start({ tlsCertificate: reversed, tlsKey: pki.key })).rejects.toMatchObject({
      code: 'TLS_KEY_MISMATCH',
      message: `--tls-key ${pki.key} is not the key of --tls-certificate ${reversed}: it is the key of a later certificate of the file; the leaf must come first`,
    });
  });

  it('refuses a CA file that is not a certificate', async () => {
    await expect(
      start({ tlsCertificate: pki.cert, tlsKey: pki.key, tlsCa: pki.key }),
    ).rejects.toThrow(`cannot parse CA certificate ${pki.key}`);
  });

  it('refuses a key it cannot read, without printing it', async () => {
    const error = await start({ tlsCertificate: pki.cert, tlsKey: pki.cert }).catch(
      (caught: unknown) => caught as Error,
    );
    expect(String(error)).toContain(`cannot parse TLS key ${pki.cert}`);
    expect(String(error)).not.toContain('BEGIN');
  });
});

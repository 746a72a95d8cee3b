import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { LightMyRequestResponse } from 'fastify';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { LedgerError } from '../../../src/ledger/errors.js';
import type { ProcessLedger } from '../../../src/ledger/process-ledger.js';
import { createTrustedRoot } from '../../../src/runtime/profiles.js';
import { buildServer } from '../../../src/server/app.js';
import { createServingState } from '../../../src/server/serving-state.js';
import { reject } from '../../../src/tsp/rejection.js';
import { createTestServer, silentLogger } from '../../helpers/tsa.js';
import { REPO_ROOT } from '../../helpers/spawn-server.js';
import { helloTimeStampReq } from '../../loadtest/request.js';

interface MediaObject {
  schema?: Record<string, unknown>;
}
interface ResponseObject {
  content?: Record<string, MediaObject>;
  headers?: Record<string, unknown>;
}
interface Spec {
  openapi: string;
  paths: Record<string, Record<string, { responses: Record<string, ResponseObject> }>>;
  components: { schemas: Record<string, unknown> };
}

const specText = readFileSync(join(REPO_ROOT, 'openapi.yaml'), 'utf8');
const spec = parse(specText) as Spec;
const ajv = new Ajv2020({ strict: false });
ajv.addSchema({ $id: 'openapi', components: spec.components });

/** A response schema whose local references point into the registered document. */
const resolvable = (schema: object): object =>
  JSON.parse(
    JSON.stringify(schema).replaceAll('"#/components/', '"openapi#/components/'),
  ) as object;

/** "POST /api/v1/timestamp 200 application/timestamp-reply" for every documented response. */
function documented(): Set<string> {
  const keys = new Set<string>();
  for (const [path, operations] of Object.entries(spec.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      for (const [status, response] of Object.entries(operation.responses)) {
        const types = Object.keys(response.content ?? {});
        for (const type of types.length ? types : ['none'])
          keys.add(`${method.toUpperCase()} ${path} ${status} ${type}`);
      }
    }
  }
  return keys;
}

/** Fastify's printRoutes tree, flattened to "METHOD /path". */
function servedRoutes(tree: string): Set<string> {
  const routes = new Set<string>();
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^([│ ]*)[├└]── (\S+) \(([^)]+)\)/.exec(line);
    if (!match?.[1] || match[2] === undefined || !match[3]) {
      if (match && match[2] !== undefined && match[3]) {
        stack.splice(0, stack.length, match[2]);
        match[3].split(', ').forEach((method) => routes.add(`${method} ${match[2]}`));
      }
      continue;
    }
    const depth = match[1].length / 4;
    stack.splice(depth, stack.length, match[2]);
    const path = stack.join('');
    match[3].split(', ').forEach((method) => routes.add(`${method} ${path}`));
  }
  return routes;
}

const der = { 'content-type': 'application/timestamp-query' };
const json = { 'content-type': 'application/json' };
const sha1Json = '{"artifactHash":"qvTGHdzF6KLavt4PO0gs2a6pQ00=","hashAlgorithm":"sha1"}';
const sha256Json = JSON.stringify({
  artifactHash: helloTimeStampReq().subarray(24, 56).toString('base64'),
  hashAlgorithm: 'sha256',
});

interface Case {
  server:
    | 'default'
    | 'goRejections'
    | 'http201'
    | 'smallBody'
    | 'rateLimited'
    | 'failingSigner'
    | 'noClock'
    | 'draining'
    | 'ledger'
    | 'ledgerEmpty'
    | 'ledgerDown';
  method: 'GET' | 'HEAD' | 'POST' | 'PUT';
  url: string;
  /** The documented path, where it differs from the URL (a path parameter, a query). */
  path?: string;
  headers?: Record<string, string>;
  payload?: string | Buffer;
}

const cases: Case[] = [
  {
    server: 'default',
    method: 'POST',
    url: '/api/v1/timestamp',
    headers: der,
    payload: helloTimeStampReq(),
  },
  {
    server: 'default',
    method: 'POST',
    url: '/api/v1/timestamp',
    headers: json,
    payload: sha256Json,
  },
  {
    server: 'http201',
    method: 'POST',
    url: '/api/v1/timestamp',
    headers: der,
    payload: helloTimeStampReq(),
  },
  {
    server: 'default',
    method: 'POST',
    url: '/api/v1/timestamp',
    headers: der,
    payload: Buffer.from('3000', 'hex'),
  },
  {
    server: 'goRejections',
    method: 'POST',
    url: '/api/v1/timestamp',
    headers: der,
    payload: Buffer.from('3000', 'hex'),
  },
  { server: 'default', method: 'POST', url: '/api/v1/timestamp', headers: json, payload: sha1Json },
  {
    server: 'smallBody',
    method: 'POST',
    url: '/api/v1/timestamp',
    headers: der,
    payload: helloTimeStampReq(),
  },
  {
    server: 'default',
    method: 'POST',
    url: '/api/v1/timestamp',
    headers: { 'content-type': 'text/plain' },
    payload: 'x',
  },
  { server: 'default', method: 'POST', url: '/api/v1/timestamp', headers: json, payload: '' },
  // The first request is within --rate-limit-max 1, the second is over it.
  ...[1, 2].map(() => ({
    server: 'rateLimited' as const,
    method: 'POST' as const,
    url: '/api/v1/timestamp',
    headers: der,
    payload: helloTimeStampReq(),
  })),
  {
    server: 'failingSigner',
    method: 'POST',
    url: '/api/v1/timestamp',
    headers: der,
    payload: helloTimeStampReq(),
  },
  {
    server: 'failingSigner',
    method: 'POST',
    url: '/api/v1/timestamp',
    headers: json,
    payload: sha256Json,
  },
  {
    server: 'noClock',
    method: 'POST',
    url: '/api/v1/timestamp',
    headers: der,
    payload: helloTimeStampReq(),
  },
  {
    server: 'noClock',
    method: 'POST',
    url: '/api/v1/timestamp',
    headers: json,
    payload: sha256Json,
  },
  { server: 'default', method: 'GET', url: '/api/v1/timestamp/certchain' },
  {
    server: 'default',
    method: 'GET',
    url: '/api/v1/timestamp/certchain',
    headers: { accept: 'text/html' },
  },
  { server: 'default', method: 'HEAD', url: '/api/v1/timestamp/certchain' },
  { server: 'default', method: 'GET', url: '/api/v1/timestamp/trusted-root' },
  { server: 'default', method: 'HEAD', url: '/api/v1/timestamp/trusted-root' },
  {
    server: 'default',
    method: 'GET',
    url: '/api/v1/timestamp/trusted-root',
    headers: { host: 'evil.example"><x' },
  },
  { server: 'ledger', method: 'GET', url: '/api/v1/log/checkpoint' },
  { server: 'ledger', method: 'HEAD', url: '/api/v1/log/checkpoint' },
  { server: 'ledgerEmpty', method: 'GET', url: '/api/v1/log/checkpoint' },
  { server: 'ledgerDown', method: 'GET', url: '/api/v1/log/checkpoint' },
  {
    server: 'ledgerDown',
    method: 'GET',
    url: '/api/v1/log/tile/0/000',
    path: '/api/v1/log/tile/{path}',
  },
  {
    server: 'ledgerDown',
    method: 'GET',
    url: '/api/v1/log/proof?serial=01',
    path: '/api/v1/log/proof',
  },
  { server: 'ledger', method: 'GET', url: '/api/v1/log/key' },
  { server: 'ledger', method: 'HEAD', url: '/api/v1/log/key' },
  ...(
    [
      ['GET', '/api/v1/log/tile/0/000'],
      ['HEAD', '/api/v1/log/tile/0/000'],
      ['GET', '/api/v1/log/tile/0/001'],
      ['GET', '/api/v1/log/tile/0/1'],
      ['GET', '/api/v1/log/proof?serial=0x01'],
      ['HEAD', '/api/v1/log/proof?serial=01'],
      ['GET', '/api/v1/log/proof?serial=zz'],
      ['GET', '/api/v1/log/proof?serial=02'],
    ] as const
  ).map(([method, url]) => ({
    server: 'ledger' as const,
    method,
    url,
    path: url.startsWith('/api/v1/log/tile/')
      ? '/api/v1/log/tile/{path}'
      : (url.split('?')[0] ?? url),
  })),
  { server: 'default', method: 'GET', url: '/ping' },
  { server: 'default', method: 'HEAD', url: '/ping' },
  { server: 'noClock', method: 'GET', url: '/ping' },
  { server: 'noClock', method: 'HEAD', url: '/ping' },
  { server: 'default', method: 'GET', url: '/livez' },
  { server: 'default', method: 'HEAD', url: '/livez' },
  { server: 'default', method: 'GET', url: '/readyz' },
  { server: 'default', method: 'HEAD', url: '/readyz' },
  { server: 'draining', method: 'GET', url: '/readyz' },
  { server: 'draining', method: 'HEAD', url: '/readyz' },
  { server: 'default', method: 'GET', url: '/openapi.yaml' },
  { server: 'default', method: 'HEAD', url: '/openapi.yaml' },
];

type App = Awaited<ReturnType<typeof createTestServer>>['app'];
const missing = (reason: string) => ({ found: false, reason });
const servers = {} as Record<Case['server'], App>;
let routeTree = '';

beforeAll(async () => {
  const base = await createTestServer();
  servers.default = base.app;
  servers.goRejections = (await createTestServer({ derRejectionStatus: 'go' })).app;
  servers.http201 = (await createTestServer({ useHttp201: true })).app;
  servers.smallBody = (await createTestServer({ maxRequestBodySize: 10 })).app;
  servers.rateLimited = (await createTestServer({ rateLimitMax: 1 })).app;
  const failing = await createTestServer();
  Object.assign(failing.signer, {
    sign: () => Promise.reject(new Error('KMS unavailable')),
    signNow: undefined,
  });
  servers.failingSigner = failing.app;
  const noClock = await createTestServer({}, {}, [() => reject.timeNotAvailable('clock drifted')]);
  servers.noClock = noClock.app;
  const state = createServingState();
  state.draining = true;
  servers.draining = await buildServer({
    config: base.config,
    authority: base.authority,
    chainPem: base.chainPem,
    logger: silentLogger,
    state,
  });
  // A transparency log whose reader holds one checkpoint, tile 0/000 and the token with serial 01.
  const log = (checkpoint: boolean) => ({
    origin: 'tsa.example/log',
    verifierKey: 'tsa.example/log+00000000+AQ==',
    reader: {
      checkpoint: () =>
        Promise.resolve(
          checkpoint
            ? { found: true, value: 'tsa.example/log\n1\nAA==\n' }
            : missing('no-checkpoint'),
        ),
      tile: (tile: { l: number; n: number }) =>
        Promise.resolve(
          tile.l === 0 && tile.n === 0
            ? { found: true, value: new Uint8Array(32) }
            : missing('unknown'),
        ),
      proof: (serial: Uint8Array) =>
        Promise.resolve(
          serial[0] === 1 ? { found: true, value: 'c2sp.org/tlog-proof@v1\n' } : missing('unknown'),
        ),
    },
  });
  // What pg rejects a query with while the database is stopped.
  const refused = () =>
    Promise.reject(
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
    );
  // And what the log's own pool says when every read connection is in use.
  const busy = () =>
    Promise.reject(new LedgerError('BUSY', 'the log is busy: every read connection is in use'));
  const downLog = {
    ...log(true),
    reader: { checkpoint: refused, tile: busy, proof: refused },
  };
  servers.ledgerDown = await buildServer({
    config: base.config,
    authority: base.authority,
    chainPem: base.chainPem,
    logger: silentLogger,
    ledger: { log: downLog } as unknown as ProcessLedger,
  });
  const withLog = async (checkpoint: boolean) =>
    buildServer({
      config: base.config,
      authority: base.authority,
      chainPem: base.chainPem,
      trustedRoot: await createTrustedRoot(base.config, base.chain, [], () => {}),
      logger: silentLogger,
      ledger: { log: log(checkpoint) } as unknown as ProcessLedger,
    });
  servers.ledger = await withLog(true);
  servers.ledgerEmpty = await withLog(false);
  await servers.ledger.ready();
  // Every route: the log's are served only with --ledger-key.
  routeTree = servers.ledger.printRoutes({ commonPrefix: false });
});

function mediaTypeOf(response: LightMyRequestResponse, method: string): string {
  if (method === 'HEAD') return 'none';
  return String(response.headers['content-type'] ?? 'none').split(';')[0] ?? 'none';
}

describe('openapi.yaml', () => {
  it('is OpenAPI 3.1 and served at /openapi.yaml', async () => {
    expect(spec.openapi).toBe('3.1.0');
    const response = await servers.default.inject({ method: 'GET', url: '/openapi.yaml' });
    expect(response.body).toBe(specText);
  });

  it('lists every route the server serves, and the server serves every route it lists', async () => {
    const served = servedRoutes(routeTree);
    // printRoutes shows the tiles' wildcard route as a bare '*'.
    for (const route of [...served]) {
      const [method, url] = route.split(' ');
      if (url !== '*') continue;
      served.delete(route);
      served.add(`${method} /api/v1/log/tile/*`);
    }
    // A templated path parameter ({path}) is Fastify's wildcard.
    const listed = new Set(
      Object.entries(spec.paths).flatMap(([path, operations]) =>
        Object.keys(operations).map(
          (method) => `${method.toUpperCase()} ${path.replace(/\{[^}]+\}$/, '*')}`,
        ),
      ),
    );
    for (const route of listed) expect(served, route).toContain(route);
    // The rest are the documented catch-alls: 405 with Allow and an Error body.
    for (const route of [...served].filter((route) => !listed.has(route))) {
      const [method = '', path = ''] = route.split(' ');
      const url = path.replace(/\*$/, '0/000');
      const response = await servers.ledger.inject({ method: method as 'PUT', url });
      expect(response.statusCode, route).toBe(405);
      expect(response.headers['allow'], route).toBeTruthy();
      if (method === 'HEAD') continue;
      expect(
        ajv.validate({ $ref: 'openapi#/components/schemas/Error' }, response.json()),
        route,
      ).toBe(true);
    }
  });

  it('every documented response is produced, and every produced response is documented', async () => {
    const produced = new Set<string>();
    for (const testCase of cases) {
      const response = await servers[testCase.server].inject({
        method: testCase.method,
        url: testCase.url,
        ...(testCase.headers ? { headers: testCase.headers } : {}),
        ...(testCase.payload ? { payload: testCase.payload } : {}),
      });
      const type = mediaTypeOf(response, testCase.method);
      const path = testCase.path ?? testCase.url;
      const key = `${testCase.method} ${path} ${response.statusCode} ${type}`;
      produced.add(key);
      const documentedResponse =
        spec.paths[path]?.[testCase.method.toLowerCase()]?.responses[String(response.statusCode)];
      expect(documentedResponse, key).toBeDefined();
      for (const header of Object.keys(documentedResponse?.headers ?? {})) {
        expect(response.headers[header.toLowerCase()], `${key} ${header}`).toBeDefined();
      }
      const schema = documentedResponse?.content?.[type]?.schema;
      if (!schema) continue;
      const body = /^application\/([\w.-]+\+)?json$/.test(type) ? response.json() : response.body;
      if (type === 'application/timestamp-reply') expect(response.rawPayload[0], key).toBe(0x30);
      else expect(ajv.validate(resolvable(schema), body) || ajv.errors, key).toBe(true);
    }
    expect([...documented()].filter((key) => !produced.has(key))).toEqual([]);
    expect([...produced].filter((key) => !documented().has(key))).toEqual([]);
  });
});

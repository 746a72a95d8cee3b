/**
 * The floor: the least an RFC 3161 server over Fastify can do per request. It reads the same body
 * and answers one raw crypto.sign over 300 bytes with a P-256 key. Our server is compared to it.
 * With --workers N, N such processes share the port through node:cluster (as `serve --workers N`).
 *
 * With --turns, the turn floor: the same signatures, made a turn's requests at a time after the
 * turn's I/O (src/server/turn-batch.ts), as our server makes its tokens.
 *
 * With --token, the token floor: the same route answers the TimeStampResp our TimestampAuthority
 * makes of the body (P-256 memory key, the server's default profile), in turns as our server
 * does, and nothing else a server does (no log line, metrics, Go headers, request ID, CORS or
 * abort hooks). Between the floor and our server it tells the cost of the token from that of the
 * server around it.
 *   tsx bench/floor-server.ts --port 3001 [--workers 1] [--turns | --token]
 */
import cluster from 'node:cluster';
import { generateKeyPairSync, sign } from 'node:crypto';
import Fastify from 'fastify';
import { TurnBatch } from '../src/server/turn-batch.js';
import { parseCertificate } from '../src/x509/certificate.js';
import { defaultAuthority } from '../test/helpers/authority.js';
import { createBenchSigner } from './keys.js';
import { parseArgs } from './stats.js';

const args = parseArgs(process.argv.slice(2));
const port = Number(args['port'] ?? 3001);
const workers = Number(args['workers'] ?? 1);
const token = args['token'] !== undefined;
const turns = args['turns'] !== undefined;
if (workers > 1 && cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  await new Promise(() => {});
}
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const toBeSigned = Buffer.alloc(300, 1);

const app = Fastify();
app.removeAllContentTypeParsers();
app.addContentTypeParser(
  'application/timestamp-query',
  { parseAs: 'buffer' },
  (_request, body, done) => done(null, body),
);
app.get('/ping', async () => '.');
// The server's defaults for a memory key: no check of each signature (in-process key).
const authority = token
  ? await createBenchSigner('p256').then(({ signer, chain }) =>
      defaultAuthority(signer, chain.map(parseCertificate), { verifySignatures: false }),
    )
  : undefined;
const rawSignature = () => sign('sha256', toBeSigned, privateKey);
const signatureInTurns = new TurnBatch(rawSignature);
const tokenInTurns = authority && new TurnBatch((body: Buffer) => authority.issue(body, 'der'));
app.post('/api/v1/timestamp', async (request, reply) => {
  if (!(request.body instanceof Buffer) || request.body.length === 0) return reply.code(400).send();
  const answer = tokenInTurns
    ? (await tokenInTurns.add(request.body)).der
    : turns
      ? await signatureInTurns.add(undefined)
      : rawSignature();
  return reply.type('application/timestamp-reply').send(answer);
});
await app.listen({ host: '127.0.0.1', port });

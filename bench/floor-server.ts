/**
 * The floor: the least an RFC 3161 server over Fastify can do per request. It reads the same body
 * and answers one raw crypto.sign over 300 bytes with a P-256 key. Our server is compared to it.
 * With --workers N, N such processes share the port through node:cluster (as `serve --workers N`).
 *   tsx bench/floor-server.ts --port 3001 [--workers 1]
 */
import cluster from 'node:cluster';
import { generateKeyPairSync, sign } from 'node:crypto';
import Fastify from 'fastify';
import { parseArgs } from './stats.js';

const args = parseArgs(process.argv.slice(2));
const port = Number(args['port'] ?? 3001);
const workers = Number(args['workers'] ?? 1);
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
app.post('/api/v1/timestamp', async (request, reply) => {
  if (!(request.body instanceof Buffer) || request.body.length === 0) return reply.code(400).send();
  return reply.type('application/timestamp-reply').send(sign('sha256', toBeSigned, privateKey));
});
await app.listen({ host: '127.0.0.1', port });

/**
 * The floor: the least an RFC 3161 server over Fastify can do per request. It reads the same body
 * and answers one raw crypto.sign over 300 bytes with a P-256 key. Our server is compared to it.
 *   tsx bench/floor-server.ts --port 3001
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import Fastify from 'fastify';
import { parseArgs } from './stats.js';

const port = Number(parseArgs(process.argv.slice(2))['port'] ?? 3001);
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

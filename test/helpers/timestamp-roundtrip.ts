import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { openssl, tempDir } from './openssl.js';

/**
 * Asks `app` for a token over openssl's own query (SHA-256 digest, certReq) and checks it with
 * `openssl ts -verify` against the chain's root. Returns openssl's output.
 */
export async function timestampAndVerify(app: FastifyInstance, chainPemPath: string): Promise<string> {
  const work = tempDir();
  try {
    const data = work.write('data.txt', `artifact ${Math.random()}`);
    const query = work.path('query.tsq');
    await openssl(['ts', '-query', '-data', data, '-sha256', '-cert', '-out', query]);
    const response = await app.inject({
      method: 'POST',
      url: '/api/v1/timestamp',
      headers: { 'content-type': 'application/timestamp-query' },
      payload: readFileSync(query),
    });
    if (response.statusCode !== 200) throw new Error(`HTTP ${response.statusCode}: ${response.body}`);
    const reply = work.write('reply.tsr', response.rawPayload);
    const pems = readFileSync(chainPemPath, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/g) ?? [];
    const root = work.write('root.pem', pems[pems.length - 1] ?? '');
    const untrusted = work.write('untrusted.pem', pems.slice(0, -1).join('\n'));
    return await openssl(['ts', '-verify', '-in', reply, '-queryfile', query, '-CAfile', root, '-untrusted', untrusted]);
  } finally {
    work.cleanup();
  }
}

/**
 * Why tokens are signed with node:crypto and not through WebCrypto: one P-256 signature of a
 * token's signed attributes with `crypto.sign`, with Node's own WebCrypto (`crypto.subtle`), and
 * with `@peculiar/webcrypto` (one of the project's chosen libraries), on the same key; each a
 * multiple of crypto.sign's rate in the same run, medians over runs.
 *   npm run bench -- webcrypto [--seconds 1] [--runs 5]
 */
import { sign, webcrypto } from 'node:crypto';
import { Crypto as PeculiarCrypto } from '@peculiar/webcrypto';
import { generateKey } from './keys.js';
import { format, median, rate } from './stats.js';

export async function benchWebCrypto(options: { seconds?: number; runs?: number } = {}) {
  const seconds = options.seconds ?? 1;
  const runs = options.runs ?? 5;
  const key = generateKey('p256');
  const pkcs8 = key.export({ type: 'pkcs8', format: 'der' });
  const data = Buffer.alloc(300, 3); // about a token's signed attributes
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256' };
  const params = { name: 'ECDSA', hash: 'SHA-256' };
  const subtles = { node: webcrypto.subtle, peculiar: new PeculiarCrypto().subtle };
  const nodeKey = await subtles.node.importKey('pkcs8', pkcs8, algorithm, false, ['sign']);
  const peculiarKey = await subtles.peculiar.importKey('pkcs8', pkcs8, algorithm, false, ['sign']);
  const samples = { sign: [] as number[], node: [] as number[], peculiar: [] as number[] };
  for (let run = 0; run < runs; run++) {
    samples.sign.push(await rate(seconds, () => sign('sha256', data, key)));
    samples.node.push(await rate(seconds, () => subtles.node.sign(params, nodeKey, data)));
    samples.peculiar.push(
      await rate(seconds, () => subtles.peculiar.sign(params, peculiarKey, data)),
    );
  }
  const multiple = (values: number[]) =>
    format(median(values.map((v, i) => v / (samples.sign[i] as number))), 2);
  console.log(
    `webcrypto p256   crypto.sign ${format(median(samples.sign))}/s   crypto.subtle ${format(median(samples.node))}/s (${multiple(samples.node)}x)` +
      `   @peculiar/webcrypto ${format(median(samples.peculiar))}/s (${multiple(samples.peculiar)}x)`,
  );
}

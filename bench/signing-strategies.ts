/**
 * Part 1b: where local keys should sign. For P-256, P-384 and RSA-2048: synchronously on the event
 * loop, on libuv's thread pool (crypto.sign's callback form, what LocalKeySigner does), or in a
 * piscina worker_threads pool; multiples of the synchronous single-thread rate, medians over runs.
 *   npm run bench -- signing [--seconds 2] [--runs 3] [--concurrency 8]
 */
import { sign, type KeyObject } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { generateKey, HASH_FOR, type KeyKind } from './keys.js';
import { format, median, rate } from './stats.js';

export async function benchSigningStrategies(
  options: { seconds?: number; runs?: number; concurrency?: number } = {},
) {
  const seconds = options.seconds ?? 2;
  const runs = options.runs ?? 3;
  const concurrency = options.concurrency ?? 8;
  for (const kind of ['p256', 'p384', 'rsa2048'] as KeyKind[]) {
    const key: KeyObject = generateKey(kind);
    const hash = HASH_FOR[kind];
    const data = Buffer.alloc(300, 3);
    const pkcs8 = key.export({ type: 'pkcs8', format: 'der' });
    // A pool per key: each worker imports the key of its first task once.
    const pool = new Piscina({
      filename: new URL('./sign-worker.mjs', import.meta.url).href,
      minThreads: availableParallelism(),
      maxThreads: availableParallelism(),
    });
    try {
      await pool.run({ pkcs8, data, hash });
      const samples = { sync: [] as number[], threadPool: [] as number[], piscina: [] as number[] };
      for (let run = 0; run < runs; run++) {
        samples.sync.push(await rate(seconds, () => sign(hash, data, key)));
        samples.threadPool.push(
          await rate(
            seconds,
            () =>
              new Promise((resolve, reject) =>
                sign(hash, data, key, (error, signature) =>
                  error ? reject(error) : resolve(signature),
                ),
              ),
            concurrency,
          ),
        );
        samples.piscina.push(
          await rate(seconds, () => pool.run({ pkcs8, data, hash }), concurrency),
        );
      }
      const sync = median(samples.sync);
      const multiple = (values: number[]) =>
        format(median(values.map((v, i) => v / (samples.sync[i] as number))), 2);
      console.log(
        `signing ${kind.padEnd(8)} sync ${format(sync)}/s   thread pool ${format(median(samples.threadPool))}/s (${multiple(samples.threadPool)}x)` +
          `   piscina ${format(median(samples.piscina))}/s (${multiple(samples.piscina)}x)   concurrency ${concurrency}`,
      );
    } finally {
      await pool.destroy();
    }
  }
}

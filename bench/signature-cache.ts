/**
 * Part 1c: what a P-256 signature costs when other work runs between two signatures, as in a
 * server that signs between one request's parsing and the next one's. Before each signature the
 * loop writes one byte in each 64-byte line of the next `kb` KiB of a 64 MiB buffer (memory the
 * CPU's caches do not hold), and times the signature alone. Why the server makes a turn's tokens
 * together (src/server/turn-batch.ts; docs/performance.md, "Tokens in turns").
 *   npm run bench -- sign-cache [--seconds 1] [--runs 3] [--kb 0,64,256,1024,4096]
 */
import { sign } from 'node:crypto';
import { generateKey } from './keys.js';
import { format, median } from './stats.js';

const CACHE_LINE = 64;

export interface SignatureCacheResult {
  /** KiB written between two signatures. */
  kb: number;
  /** Microseconds per signature (the signature alone), median over the runs. */
  microseconds: number;
}

export function benchSignatureCache(
  options: { seconds?: number; runs?: number; kb?: number[] } = {},
): SignatureCacheResult[] {
  const seconds = options.seconds ?? 1;
  const runs = options.runs ?? 3;
  const sizes = options.kb ?? [0, 64, 256, 1024, 4096];
  const key = generateKey('p256');
  const data = Buffer.alloc(300, 5);
  const memory = new Uint8Array(64 << 20);
  let position = 0;
  const touch = (kb: number) => {
    for (let written = 0; written < kb * 1024; written += CACHE_LINE) {
      memory[position] = (memory[position] ?? 0) + 1;
      position = (position + CACHE_LINE) % memory.length;
    }
  };
  const signatureTime = (kb: number): number => {
    let signing = 0;
    let signatures = 0;
    const end = performance.now() + seconds * 1000;
    while (performance.now() < end) {
      touch(kb);
      const start = performance.now();
      sign('sha256', data, key);
      signing += performance.now() - start;
      signatures++;
    }
    return (signing * 1000) / signatures;
  };
  for (let i = 0; i < 1000; i++) sign('sha256', data, key);
  const samples = new Map(sizes.map((kb) => [kb, [] as number[]]));
  // Sizes alternate run by run, so each sees the same machine noise.
  for (let run = 0; run < runs; run++)
    for (const kb of sizes) samples.get(kb)?.push(signatureTime(kb));
  const results = sizes.map((kb) => ({ kb, microseconds: median(samples.get(kb) ?? []) }));
  for (const { kb, microseconds } of results)
    console.log(
      `sign-cache p256: ${format(kb).padStart(5)} KiB written between signatures: ${format(microseconds, 1)} us a signature` +
        ` (${format(microseconds / (results[0]?.microseconds ?? microseconds), 2)} x)`,
    );
  return results;
}

/**
 * Part 5: issuance through a remote signer (the real AWS SDK against the fake KMS of test/fakes)
 * with an injected service latency: tokens/s must grow with concurrency up to --kms-max-concurrency
 * (here 32), not serialize.
 *   npm run bench -- remote [--latency-ms 20] [--seconds 2]
 */
import { createHash, type KeyObject } from 'node:crypto';
import { createKmsSigner } from '../src/signers/kms/create-kms-signer.js';
import { parseCertificate } from '../src/x509/certificate.js';
import { startFakeAwsKms } from '../test/fakes/aws-kms.js';
import { encodeRequest } from '../test/helpers/requests.js';
import { createBenchChain } from './keys.js';
import { format, rate } from './stats.js';
import { defaultAuthority } from '../test/helpers/authority.js';

const MAX_CONCURRENCY = 32;

export async function benchRemote(options: { latencyMs?: number; seconds?: number } = {}) {
  const latencyMs = options.latencyMs ?? 20;
  const seconds = options.seconds ?? 2;
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: 'AKIDBENCH',
    AWS_SECRET_ACCESS_KEY: 'bench-secret',
    AWS_REGION: 'us-east-1',
  });
  const fake = await startFakeAwsKms();
  process.env['AWS_ENDPOINT_URL_KMS'] = fake.origin;
  try {
    // RSA: the fake signs it in-process; its ECDSA signing spawns openssl and would be the bottleneck.
    const key = fake.createKey('rsa-2048', 'bench');
    const signer = await createKmsSigner(`awskms:///${key.arn}`, 'sha256', {
      timeoutMs: 5_000,
      maxConcurrency: MAX_CONCURRENCY,
      maxRetries: 0,
      backoffMs: 50,
    });
    const chain = await createBenchChain(key.key.publicKey as KeyObject);
    const authority = defaultAuthority(signer, chain.map(parseCertificate));
    const request = encodeRequest({
      digest: createHash('sha256').update('remote').digest(),
      nonce: 1n,
    });
    if ((await authority.issue(request, 'der')).status !== 'granted')
      throw new Error('remote bench request refused');
    fake.faults.latencyMs = latencyMs;
    const serial = latencyMs > 0 ? 1000 / latencyMs : Number.POSITIVE_INFINITY;
    for (const concurrency of [1, 8, 32, 64]) {
      const tokens = await rate(seconds, () => authority.issue(request, 'der'), concurrency);
      console.log(
        `remote awskms latency ${latencyMs} ms  concurrency ${String(concurrency).padStart(2)} (bound ${MAX_CONCURRENCY}): ` +
          `${format(tokens).padStart(6)} tokens/s = ${format(tokens / serial, 1)}x one-at-a-time`,
      );
    }
    await signer[Symbol.asyncDispose]();
  } finally {
    await fake.close();
  }
}

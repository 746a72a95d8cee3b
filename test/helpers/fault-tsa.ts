import { readFileSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import { resolveServeConfig } from '../../src/config/resolve.js';
import { buildServer } from '../../src/server/app.js';
import { createKmsSigner } from '../../src/signers/kms/create-kms-signer.js';
import type { ProviderOptions } from '../../src/signers/kms/provider-options.js';
import type { RemoteCallPolicy } from '../../src/signers/kms/remote-signer.js';
import { signerFailuresTotal } from '../../src/signers/kms/remote-signer-metrics.js';
import { signerAvailabilityGuard } from '../../src/tsp/guards.js';
import { parseCertificate } from '../../src/x509/certificate.js';
import { decodeCertificatesPem } from './pem.js';
import type { tempDir } from './openssl.js';
import { writeChainFor } from './remote-tsa.js';
import { silentLogger } from './tsa.js';
import { defaultAuthority } from './authority.js';

/**
 * A TSA (Fastify app, not listening) on a remote signer, wired as `serve` wires it (the breaker's
 * issuance guard included) but with programmatic provider options (Azure's TLS agent).
 */
export async function createRemoteTsa(
  uri: string,
  publicKey: KeyObject,
  policy: RemoteCallPolicy,
  dir: ReturnType<typeof tempDir>,
  options: ProviderOptions = {},
) {
  const paths = await writeChainFor(publicKey, dir);
  const signer = await createKmsSigner(uri, 'sha256', policy, options);
  const chain = decodeCertificatesPem(readFileSync(paths.chain, 'utf8')).map(parseCertificate);
  const authority = defaultAuthority(signer, chain, {
    guards: [signerAvailabilityGuard(() => signer.unavailableReason())],
  });
  const app = await buildServer({
    config: resolveServeConfig({}),
    authority,
    chainPem: '',
    logger: silentLogger,
  });
  return {
    app,
    signer,
    paths,
    close: async () => {
      await app.close();
      await signer[Symbol.asyncDispose]();
    },
  };
}

/** The failure counter's value for each reason, to compare before and after. */
export async function signerFailureCounts(): Promise<Record<string, number>> {
  const { values } = await signerFailuresTotal.get();
  return Object.fromEntries(values.map(({ labels, value }) => [String(labels.reason), value]));
}

/** Collects unhandled promise rejections for the whole test file. */
export function watchUnhandledRejections(): unknown[] {
  const seen: unknown[] = [];
  process.on('unhandledRejection', (reason) => seen.push(reason));
  return seen;
}

import pino from 'pino';
import { resolveServeConfig } from '../../src/config/resolve.js';
import type { ServeOptionName } from '../../src/config/schema.js';
import { buildServer } from '../../src/server/app.js';
import type { SignerDependencies } from '../../src/signers/create-signer.js';
import { createAuthority } from '../../src/server/start.js';
import { createServingState } from '../../src/server/serving-state.js';

export const silentLogger = pino({ level: 'silent' });

/** An in-process server (not listening) with the given flags (default: the memory signer). */
export async function createTestServer(
  flags: Partial<Record<ServeOptionName, unknown>> = {},
  signerDependencies: SignerDependencies = {},
) {
  const config = resolveServeConfig(flags);
  const tsa = await createAuthority(config, silentLogger, signerDependencies);
  const state = createServingState();
  const app = await buildServer({
    config,
    authority: tsa.authority,
    chainPem: tsa.chainPem,
    logger: silentLogger,
    state,
  });
  return { app, config, state, ...tsa };
}

import pino from 'pino';
import { resolveServeConfig } from '../../src/config/resolve.js';
import type { ServeOptionName } from '../../src/config/schema.js';
import { buildServer } from '../../src/server/app.js';
import type { SignerDependencies } from '../../src/signers/create-signer.js';
import type { IssuanceGuard } from '../../src/tsp/guards.js';
import { createAuthority, startServer, type RunningServer } from '../../src/runtime/serve.js';
import { createTrustedRoot } from '../../src/runtime/profiles.js';
import { createServingState } from '../../src/server/serving-state.js';

export const silentLogger = pino({ level: 'silent' });

/**
 * An in-process server (not listening) with the given flags (default: the memory signer), its
 * authority guarded by `guards` after the signer's and the chain's (as serve adds the clock gate).
 */
export async function createTestServer(
  flags: Partial<Record<ServeOptionName, unknown>> = {},
  signerDependencies: SignerDependencies = {},
  guards: readonly IssuanceGuard[] = [],
) {
  const config = resolveServeConfig(flags);
  const tsa = await createAuthority(config, silentLogger, signerDependencies, guards);
  const state = createServingState();
  const app = await buildServer({
    config,
    authority: tsa.authority,
    chainPem: tsa.chainPem,
    trustedRoot: await createTrustedRoot(config, tsa.chain, [], () => {}),
    logger: silentLogger,
    state,
  });
  return { app, config, state, ...tsa };
}

/**
 * A listening in-process server on 127.0.0.1 with the memory signer (no clock monitoring: no
 * NTP server is reached) and any other `flags`, on free ports.
 */
export function startLocalServer(
  flags: Partial<Record<ServeOptionName, unknown>> = {},
): Promise<RunningServer> {
  return startServer(
    resolveServeConfig({
      host: '127.0.0.1',
      port: 0,
      metricsPort: 0,
      disableNtpMonitoring: true,
      ...flags,
    }),
    silentLogger,
  );
}

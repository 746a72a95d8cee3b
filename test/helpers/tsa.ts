import pino from 'pino';
import { resolveServeConfig } from '../../src/config/resolve.js';
import type { ServeOptionName } from '../../src/config/schema.js';
import { buildServer } from '../../src/server/app.js';
import { createAuthority } from '../../src/server/start.js';

export const silentLogger = pino({ level: 'silent' });

/** An in-process server (not listening) with the memory signer and the given flags. */
export async function createTestServer(flags: Partial<Record<ServeOptionName, unknown>> = {}) {
  const config = resolveServeConfig(flags);
  const tsa = await createAuthority(config, silentLogger);
  const app = await buildServer({
    config,
    authority: tsa.authority,
    chainPem: tsa.chainPem,
    logger: silentLogger,
  });
  return { app, config, ...tsa };
}

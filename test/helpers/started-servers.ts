import { afterEach } from 'vitest';
import { resolveServeConfig } from '../../src/config/resolve.js';
import type { ServeOptionName } from '../../src/config/schema.js';
import { createLogger } from '../../src/server/logger.js';
import { startServer, type RunningServer } from '../../src/runtime/serve.js';
import { selfSignedTls } from '../fakes/tls.js';
import type { logSink } from './log-sink.js';
import type { tempDir } from './openssl.js';

/**
 * A starter of real servers (port 0, metrics on port 0, no NTP) with the prod log into `sink`,
 * each closed after the test that started it. Call at a test file's top level.
 */
export function startedServers(sink: ReturnType<typeof logSink>['sink']) {
  const running: RunningServer[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((server) => server.close()));
  });
  return async (flags: Partial<Record<ServeOptionName, unknown>> = {}): Promise<RunningServer> => {
    const config = resolveServeConfig({
      port: 0,
      metricsPort: 0,
      disableNtpMonitoring: true,
      ...flags,
    });
    const server = await startServer(config, createLogger('prod', 'info', sink), {});
    running.push(server);
    return server;
  };
}

/**
 * The flags of an HTTPS listener on port 0 with a fresh self-signed certificate written into
 * `dir`, and `ca`, the certificate a client trusts it with.
 */
export function selfSignedTlsListener(dir: ReturnType<typeof tempDir>) {
  const tls = selfSignedTls();
  return {
    ca: tls.cert,
    flags: {
      tlsPort: 0,
      tlsCertificate: dir.write('server.pem', tls.cert),
      tlsKey: dir.write('server.key', tls.key),
    },
  };
}

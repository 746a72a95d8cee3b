import { afterEach } from 'vitest';
import { resolveServeConfig } from '../../src/config/resolve.js';
import type { ServeOptionName } from '../../src/config/schema.js';
import { createLogger } from '../../src/server/logger.js';
import { startServer, type RunningServer } from '../../src/runtime/serve.js';
import type { logSink } from './log-sink.js';

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

import { ConfigError } from './config-error.js';
import type { ServeConfig } from './schema.js';
import { parseWorkerCount } from './worker-count.js';

/**
 * Rules between options, checked once when the configuration is resolved, so that no later layer
 * (start-up, the cluster primary, a listener) has to check them again.
 */
export function checkServeConfig(config: ServeConfig): void {
  if (config.disableNtpMonitoring && config.requireTimeSync) {
    throw new ConfigError(
      'CONFLICTING_OPTIONS',
      '--require-time-sync needs NTP monitoring: remove --disable-ntp-monitoring',
    );
  }
  parseWorkerCount(config.workers);
  if (config.rateLimitMax > 0 && config.rateLimitWindow < 1) {
    throw new ConfigError('INVALID_VALUE', '--rate-limit-window must be at least 1 second');
  }
  // Any TLS flag asks for the HTTPS listener (server/tls.ts), which needs a certificate and its key.
  const tls = config.tlsCertificate !== '' || config.tlsKey !== '' || config.tlsCa !== '';
  if (tls && (config.tlsCertificate === '' || config.tlsKey === '')) {
    throw new ConfigError(
      'OPTION_MISSING',
      'the required flags `--tls-certificate` and `--tls-key` were not specified',
    );
  }
}

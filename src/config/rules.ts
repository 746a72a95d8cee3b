import { ConfigError } from './config-error.js';
import { formatDuration } from './duration.js';
import type { ServeConfig } from './schema.js';
import { parseWorkerCount } from './worker-count.js';

/**
 * Rules between options, checked once when the configuration is resolved, so that no later layer
 * (start-up, the cluster primary, a listener) has to check them again. Throws a ConfigError for a
 * configuration the server refuses; returns the warnings (values accepted with no effect here),
 * which the CLI only prints.
 */
export function checkServeConfig(config: ServeConfig): string[] {
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
  return checkGoOnlyOptions(config);
}

const SCHEMES = ['http', 'https', 'unix'];

/**
 * The Go-only options (go-only-options.ts): a warning for each value that is accepted but has no
 * effect here; throws for one that would serve differently from what was asked (a listener or
 * limit the operator expects and would not get).
 */
function checkGoOnlyOptions(config: ServeConfig): string[] {
  const warnings: string[] = [];
  if (config.enablePprof) {
    warnings.push(
      '--enable-pprof is ignored: this server has no pprof endpoint (profile with node --cpu-prof or --inspect)',
    );
  }
  for (const [flag, value] of [
    ['keep-alive', config.keepAlive],
    ['tls-keep-alive', config.tlsKeepAlive],
  ] as const) {
    if (value === 0) {
      warnings.push(
        `--${flag} 0 is ignored: keep-alive is always on here; idle connections close after --cleanup-timeout (${formatDuration(config.cleanupTimeout)})`,
      );
    }
  }
  if (config.socketPath !== '') {
    warnings.push('--socket-path is ignored: this server does not listen on a Unix socket');
  }
  checkScheme(config);
  const same: [string, number | undefined, string, number, (value: number) => string][] = [
    ['tls-listen-limit', config.tlsListenLimit, 'max-connections', config.maxConnections, String],
    ['tls-read-timeout', config.tlsReadTimeout, 'read-timeout', config.readTimeout, formatDuration],
    [
      'tls-write-timeout',
      config.tlsWriteTimeout,
      'write-timeout',
      config.writeTimeout,
      formatDuration,
    ],
  ];
  for (const [flag, value, ours, inEffect, format] of same) {
    if (value !== undefined && value !== inEffect) {
      throw new ConfigError(
        'CONFLICTING_OPTIONS',
        `--${flag} ${format(value)} differs from --${ours} ${format(inEffect)}: here --${ours} applies to the HTTP and HTTPS listeners alike; set it instead`,
      );
    }
  }
  return warnings;
}

/** Go's --scheme picks the listeners; here HTTP always runs and HTTPS runs when it has a key. */
function checkScheme(config: ServeConfig): void {
  const schemes = config.scheme.map((scheme) => scheme.toLowerCase());
  if (schemes.length === 0) return;
  const unknown = schemes.find((scheme) => !SCHEMES.includes(scheme));
  if (unknown !== undefined) {
    throw new ConfigError(
      'INVALID_VALUE',
      `invalid value for --scheme: ${JSON.stringify(unknown)} (valid: http, https)`,
    );
  }
  if (schemes.includes('unix')) {
    throw new ConfigError(
      'UNSUPPORTED_OPTION',
      '--scheme unix is not supported: this server listens on TCP only (--host, --port)',
    );
  }
  if (!schemes.includes('http')) {
    throw new ConfigError(
      'UNSUPPORTED_OPTION',
      '--scheme without http is not supported: the plain-HTTP listener always runs here; add --http-ping-only to serve only /ping on it',
    );
  }
  const tlsKeyGiven = config.tlsCertificate !== '' && config.tlsKey !== '';
  if (schemes.includes('https') && !tlsKeyGiven) {
    throw new ConfigError(
      'OPTION_MISSING',
      '--scheme https: the required flags `--tls-certificate` and `--tls-key` were not specified',
    );
  }
  if (!schemes.includes('https') && (tlsKeyGiven || config.tlsCa !== '')) {
    throw new ConfigError(
      'CONFLICTING_OPTIONS',
      '--scheme lacks https but --tls-certificate, --tls-key or --tls-ca is set: the HTTPS listener runs whenever they are; add https to --scheme or remove them',
    );
  }
}

import { formatDuration } from './duration.js';
import { ConfigError } from './resolve.js';
import type { ServeConfig } from './schema.js';

const SCHEMES = ['http', 'https', 'unix'];

/**
 * Checks the Go-only options (go-only-options.ts): returns a warning for each value that is
 * accepted but has no effect here, and throws for one that would serve differently from what was
 * asked (a listener or limit the operator expects and would not get).
 */
export function checkGoOnlyOptions(config: ServeConfig): string[] {
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

import { oidContent, toHex } from '../asn1/der.js';
import { OID } from '../asn1/oids.js';
import { QC_STATEMENTS_NEVER_ACCEPTED } from '../tsp/extension-policy.js';
import { parseAccuracy } from './accuracy.js';
import { ConfigError } from './config-error.js';
import { formatDuration } from './duration.js';
import { checkRequestIdHeaderName, checkTrustedProxies } from './http-names.js';
import { ledgerUrlProblem } from './ledger-url.js';
import type { OptionSpec } from './option-spec.js';
import { checkDottedOid } from './profiles.js';
import { SERVE_OPTIONS, type ServeConfig } from './schema.js';
import { SIGNER_OPTIONS, signerOptionsIgnoredBy } from './signer-config.js';
import { checkWorkerCount } from './worker-count.js';

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
  if (config.requireNts && config.timeSource !== 'chrony') {
    throw new ConfigError(
      'CONFLICTING_OPTIONS',
      '--require-nts needs --time-source chrony (SNTP cannot be authenticated)',
    );
  }
  if (config.disableNtpMonitoring && config.requireNts) {
    throw new ConfigError(
      'CONFLICTING_OPTIONS',
      '--require-nts needs clock monitoring: remove --disable-ntp-monitoring',
    );
  }
  if (parseAccuracy(config.accuracy) === 'auto' && config.disableNtpMonitoring) {
    throw new ConfigError(
      'CONFLICTING_OPTIONS',
      '--accuracy auto needs clock monitoring: remove --disable-ntp-monitoring',
    );
  }
  // Refused, as the two above: chronyd would never be read, and the operator who chose it expects
  // a clock gate.
  if (config.timeSource === 'chrony' && config.disableNtpMonitoring) {
    throw new ConfigError(
      'CONFLICTING_OPTIONS',
      '--time-source chrony needs clock monitoring: remove --disable-ntp-monitoring',
    );
  }
  checkWorkerCount(config.workers);
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
  checkListenerPorts(config);
  checkRequestIdHeaderName(config);
  checkTrustedProxies(config);
  checkOidOptions(config);
  checkProfiles(config);
  checkQualified(config);
  checkLedgerConfig(config);
  return [
    ...ignoredSignerOptions(config),
    ...ignoredClockOptions(config),
    ...checkGoOnlyOptions(config),
  ];
}

/** --ntp-monitoring with --disable-ntp-monitoring: accepted, as the Go server accepts it, but unread. */
function ignoredClockOptions(config: ServeConfig): string[] {
  if (!config.disableNtpMonitoring || config.ntpMonitoring === '') return [];
  return ['--ntp-monitoring is ignored: --disable-ntp-monitoring turns clock monitoring off'];
}

/**
 * Top-level signer options set (to other than their default) that the chosen signer does not use:
 * accepted, as the Go server accepts them, with one warning naming them all. A profile refuses them
 * (profiles.ts). A pkcs11: --ledger-key uses --pkcs11-timeout whatever the signer (runtime/serve.ts).
 */
function ignoredSignerOptions(config: ServeConfig): string[] {
  const values = config as unknown as Record<string, unknown>;
  const options = SERVE_OPTIONS as Record<string, OptionSpec<unknown>>;
  const set = SIGNER_OPTIONS.filter((name) => values[name] !== options[name]?.default);
  const ledgerPkcs11 = config.ledgerUrl !== '' && /^pkcs11:/i.test(config.ledgerKey);
  const ignored = signerOptionsIgnoredBy(config.timestampSigner, set).filter(
    (name) => !(ledgerPkcs11 && name === 'pkcs11Timeout'),
  );
  if (ignored.length === 0) return [];
  const flags = ignored.map((name) => `--${options[name]?.flag}`).join(', ');
  return [
    `${flags} ${ignored.length === 1 ? 'is' : 'are'} ignored: --timestamp-signer ${config.timestampSigner} does not use ${ignored.length === 1 ? 'it' : 'them'}`,
  ];
}

/** Addresses that listen on every interface, and so overlap any other address. */
const WILDCARD_HOSTS = new Set(['', '0.0.0.0', '::', '[::]', '::0']);

/**
 * No two listeners of this process on the same port: the second bind would fail as "in use", with
 * the server itself holding the port. 0 (any free port) never collides; listeners on two distinct
 * specific addresses may share a port; the HTTPS listener counts only when it runs (a TLS key).
 */
function checkListenerPorts(config: ServeConfig): void {
  const listeners = [
    { flag: '--port', port: config.port, host: config.host },
    { flag: '--metrics-port', port: config.metricsPort, host: config.metricsHost || config.host },
  ];
  if (config.tlsCertificate !== '') {
    listeners.push({
      flag: '--tls-port',
      port: config.tlsPort,
      host: config.tlsHost || config.host,
    });
  }
  for (const [index, first] of listeners.entries()) {
    for (const second of listeners.slice(index + 1)) {
      if (first.port === 0 || first.port !== second.port) continue;
      const [a, b] = [first.host.toLowerCase(), second.host.toLowerCase()];
      if (a !== b && !WILDCARD_HOSTS.has(a) && !WILDCARD_HOSTS.has(b)) continue;
      const where =
        first.host === second.host ? `on ${first.host}` : `on ${first.host} and ${second.host}`;
      throw new ConfigError(
        'CONFLICTING_OPTIONS',
        `${first.flag} and ${second.flag} are both ${first.port} ${where}: two listeners ` +
          `cannot share a port; choose another ${second.flag} (0: any free port)`,
      );
    }
  }
}

/** The top-level OIDs, as a profile's policy-oids are checked (profiles.ts): before any signer starts. */
function checkOidOptions(config: ServeConfig): void {
  checkDottedOid(config.defaultPolicyOid, '--default-policy-oid');
  for (const dotted of config.acceptedPolicyOids) checkDottedOid(dotted, '--accepted-policy-oids');
  for (const dotted of config.acceptedExtensionOids) {
    checkDottedOid(dotted, '--accepted-extension-oids');
    if (oidContent(dotted).equals(oidContent(OID.qcStatements)))
      throw new ConfigError('INVALID_VALUE', QC_STATEMENTS_NEVER_ACCEPTED);
  }
}

/**
 * Qualified time-stamps (ETSI EN 319 421's policies for them): never issued by a clock not checked
 * against UTC, and declaring an accuracy of 1 s or better. `auto` is refused: it may declare up to
 * max_time_delta (6 s by default).
 */
function checkQualified(config: ServeConfig): void {
  const qualified = [
    ...(config.qualified
      ? [{ what: '--qualified', accuracy: parseAccuracy(config.accuracy) }]
      : []),
    ...(config.profiles ?? [])
      .filter((profile) => profile.qualified)
      .map((profile) => ({
        what: `${profile.source}: profile "${profile.name}": qualified`,
        accuracy: profile.accuracySeconds * 1000,
      })),
  ];
  for (const { what, accuracy } of qualified) {
    if (!config.requireTimeSync && !config.requireNts)
      throw new ConfigError(
        'CONFLICTING_OPTIONS',
        `${what} needs --require-time-sync: a qualified time-stamp is never issued by a clock not checked against UTC (ETSI EN 319 421)`,
      );
    if (accuracy === 'auto' || accuracy > 1000)
      throw new ConfigError(
        'CONFLICTING_OPTIONS',
        `${what} needs an accuracy of at most 1s (ETSI EN 319 421), not ${accuracy === 'auto' ? 'auto' : formatDuration(accuracy)}`,
      );
  }
}

/**
 * A request's policy picks at most one profile: no two profiles share a name or a policy OID
 * (the default profile's are --default-policy-oid and --accepted-policy-oids). OIDs are compared
 * by their encoding, as a request's are matched.
 */
function checkProfiles(config: ServeConfig): void {
  const names = new Set<string>();
  const owners = new Map<string, string>();
  const key = (dotted: string) => toHex(oidContent(dotted));
  for (const dotted of [config.defaultPolicyOid, ...config.acceptedPolicyOids])
    owners.set(key(dotted), 'the default profile');
  for (const profile of config.profiles ?? []) {
    if (names.has(profile.name))
      throw new ConfigError(
        'CONFLICTING_OPTIONS',
        `${profile.source}: two profiles are named "${profile.name}": names must be unique`,
      );
    names.add(profile.name);
    for (const dotted of new Set(profile.policyOids)) {
      const owner = owners.get(key(dotted));
      if (owner)
        throw new ConfigError(
          'CONFLICTING_OPTIONS',
          `${profile.source}: policy OID ${dotted} of profile "${profile.name}" is also ${owner === 'the default profile' ? owner : `profile "${owner}"`}'s: a policy selects one profile`,
        );
      owners.set(key(dotted), profile.name);
    }
  }
}

/** The ledger's options need --ledger-url; the log's key needs its origin. */
function checkLedgerConfig(config: ServeConfig): void {
  if (config.ledgerUrl === '') {
    for (const [flag, value] of [
      ['--ledger-password-file', config.ledgerPasswordFile],
      ['--ledger-key', config.ledgerKey],
      ['--ledger-origin', config.ledgerOrigin],
    ] as const) {
      if (value !== '') throw new ConfigError('CONFLICTING_OPTIONS', `${flag} needs --ledger-url`);
    }
    return;
  }
  const problem = ledgerUrlProblem(config.ledgerUrl, config.ledgerPasswordFile);
  if (problem !== undefined) {
    const code = problem.kind === 'conflict' ? 'CONFLICTING_OPTIONS' : 'INVALID_VALUE';
    throw new ConfigError(code, problem.message);
  }
  if (config.ledgerKey !== '' && config.ledgerOrigin === '') {
    throw new ConfigError(
      'OPTION_MISSING',
      '--ledger-key needs --ledger-origin (the name of the log)',
    );
  }
  if (config.ledgerOrigin !== '' && config.ledgerKey === '') {
    throw new ConfigError(
      'OPTION_MISSING',
      '--ledger-origin needs --ledger-key (the key signing the log)',
    );
  }
  if (config.ledgerOrigin !== '' && !/^[\x21-\x7e]+$/.test(config.ledgerOrigin)) {
    throw new ConfigError(
      'INVALID_VALUE',
      '--ledger-origin must be printable ASCII without spaces',
    );
  }
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
      '--scheme without http is not supported: the plain-HTTP listener always runs here; add --http-ping-only to serve only /ping and the health probes (/livez, /readyz) on it',
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

import { parseAccuracy } from './accuracy.js';
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
      '--require-time-sync needs NTP monitoring: remove --disable-ntp-monitoring',
    );
  }
  if (config.requireNts && config.timeSource !== 'chrony') {
    throw new ConfigError(
      '--require-nts needs --time-source chrony (SNTP cannot be authenticated)',
    );
  }
  if (config.disableNtpMonitoring && config.requireNts) {
    throw new ConfigError('--require-nts needs clock monitoring: remove --disable-ntp-monitoring');
  }
  if (parseAccuracy(config.accuracy) === 'auto' && config.disableNtpMonitoring) {
    throw new ConfigError(
      '--accuracy auto needs clock monitoring: remove --disable-ntp-monitoring',
    );
  }
  parseWorkerCount(config.workers);
  if (config.timestampSigner === 'pkcs11' && config.pkcs11Uri === '') {
    throw new ConfigError('--timestamp-signer pkcs11 needs --pkcs11-uri');
  }
  if (config.rateLimitMax > 0 && config.rateLimitWindow < 1) {
    throw new ConfigError('--rate-limit-window must be at least 1 second');
  }
  // Any TLS flag asks for the HTTPS listener (server/tls.ts), which needs a certificate and its key.
  const tls = config.tlsCertificate !== '' || config.tlsKey !== '' || config.tlsCa !== '';
  if (tls && (config.tlsCertificate === '' || config.tlsKey === '')) {
    throw new ConfigError(
      'the required flags `--tls-certificate` and `--tls-key` were not specified',
    );
  }
  checkProfiles(config);
  checkLedgerConfig(config);
}

/**
 * A request's policy picks at most one profile: no two profiles share a name or a policy OID
 * (the default profile's are --default-policy-oid and --accepted-policy-oids).
 */
function checkProfiles(config: ServeConfig): void {
  const names = new Set<string>();
  const owners = new Map<string, string>();
  for (const dotted of [config.defaultPolicyOid, ...config.acceptedPolicyOids])
    owners.set(dotted, 'the default profile');
  for (const profile of config.profiles ?? []) {
    if (names.has(profile.name))
      throw new ConfigError(`two profiles are named "${profile.name}": names must be unique`);
    names.add(profile.name);
    for (const dotted of new Set(profile.policyOids)) {
      const owner = owners.get(dotted);
      if (owner)
        throw new ConfigError(
          `policy OID ${dotted} of profile "${profile.name}" is also ${owner === 'the default profile' ? owner : `profile "${owner}"`}'s: a policy selects one profile`,
        );
      owners.set(dotted, profile.name);
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
      if (value !== '') throw new ConfigError(`${flag} needs --ledger-url`);
    }
    return;
  }
  if (!/^postgres(ql)?:\/\//.test(config.ledgerUrl)) {
    throw new ConfigError('--ledger-url must be a postgres:// or postgresql:// URL');
  }
  if (config.ledgerKey !== '' && config.ledgerOrigin === '') {
    throw new ConfigError('--ledger-key needs --ledger-origin (the name of the log)');
  }
  if (config.ledgerOrigin !== '' && config.ledgerKey === '') {
    throw new ConfigError('--ledger-origin needs --ledger-key (the key signing the log)');
  }
  if (config.ledgerOrigin !== '' && !/^[\x21-\x7e]+$/.test(config.ledgerOrigin)) {
    throw new ConfigError('--ledger-origin must be printable ASCII without spaces');
  }
}

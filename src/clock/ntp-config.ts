import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { DEFAULT_NTP_CONFIG_YAML } from './default-ntp-config.js';
import { NtpConfigError } from './ntp-config-error.js';
import { parseServerAddress, serverKey, type NtpServerAddress } from './server-address.js';

export { NtpConfigError, type NtpConfigErrorCode } from './ntp-config-error.js';

/** The Go server's NTP monitoring YAML (pkg/ntpmonitor Config): whole seconds, same keys. */
export interface NtpMonitoringConfig {
  request_attempts: number;
  request_timeout: number;
  num_servers: number;
  server_threshold: number;
  max_time_delta: number;
  period: number;
  servers: string[];
}

/** Go's messages (pkg/ntpmonitor), which operators and runbooks already know. */
export const NTP_CONFIG_ERRORS = {
  tooFewServers: 'too few ntp servers configured',
  threshold: 'no valid server threshold set',
  deltaTooSmall: 'delta is too small',
  // The two traps Go leaves open: retrying a silent server forever, and polling in a busy loop.
  attempts: 'request_attempts must be at least 1',
  period: 'period must be at least 1 second',
  // And no upper bound: see the maxima below.
  attemptsTooMany: 'request_attempts must be at most 10',
  timeoutTooLong: 'request_timeout must be at most 60 seconds',
  periodTooLong: 'period must be at most 3600 seconds',
} as const;

/**
 * Upper bounds Go does not set. Beyond setTimeout's range (2^31 - 1 ms, 24.8 days) Node fires a
 * timer after 1 ms: a period or timeout that large was a query flood. Within it, a round against
 * silent servers lasts request_attempts x (request_timeout + 1 s), and the last synced verdict
 * stays in force that long (its lifetime: a period plus the longest round, clock-bound.ts):
 * - request_timeout: no NTP answer takes more than a second or two on any path; a minute is ample.
 * - request_attempts: Go's default is 3; 10 already makes a silent server's round 10 minutes.
 * - period: an hour, over which RFC 5905's PHI widens a bound by 54 ms; beyond, tokens would rest
 *   on evidence older than any NTP poll interval chrony uses by default (1024 s at most).
 */
export const MAX_REQUEST_ATTEMPTS = 10;
export const MAX_REQUEST_TIMEOUT_S = 60;
export const MAX_PERIOD_S = 3600;

const INTEGER_KEYS = [
  'request_attempts',
  'request_timeout',
  'num_servers',
  'server_threshold',
  'max_time_delta',
  'period',
] as const;

/**
 * Parses the YAML as Go does: unknown keys are ignored and a missing key is zero (so it fails
 * validation rather than silently taking a default); values must be integers.
 */
export function parseNtpConfig(text: string): NtpMonitoringConfig {
  let document: unknown;
  try {
    document = parse(text);
  } catch (error) {
    throw new NtpConfigError(
      'INVALID_YAML',
      `failed to parse YAML: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  if (document === null || document === undefined) document = {};
  if (typeof document !== 'object' || Array.isArray(document)) {
    throw new NtpConfigError(
      'INVALID_YAML',
      'failed to parse YAML: expected a mapping of configuration keys',
    );
  }
  const values = document as Record<string, unknown>;
  const config: Record<string, unknown> = {};
  for (const key of INTEGER_KEYS) {
    const value = values[key] ?? 0;
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
      throw new NtpConfigError(
        'INVALID_YAML',
        `failed to parse YAML: ${key} must be an integer, got ${JSON.stringify(value)}`,
      );
    }
    config[key] = value;
  }
  const servers = values['servers'] ?? [];
  if (
    !Array.isArray(servers) ||
    servers.some((entry) => typeof entry !== 'string' && typeof entry !== 'number')
  ) {
    throw new NtpConfigError(
      'INVALID_YAML',
      'failed to parse YAML: servers must be a list of host or host:port strings',
    );
  }
  config['servers'] = servers.map(String);
  return config as unknown as NtpMonitoringConfig;
}

/**
 * Go's validation, in Go's order, then the two traps Go leaves open. `withServers: false`
 * (--time-source chrony): chronyd has the servers, so the server keys and request_attempts may be
 * left out.
 */
export function validateNtpConfig(config: NtpMonitoringConfig, withServers = true): void {
  const { servers } = config;
  if (withServers) {
    if (servers.length === 0 || servers.length < config.num_servers) {
      throw new NtpConfigError('TOO_FEW_SERVERS', NTP_CONFIG_ERRORS.tooFewServers);
    }
    if (config.server_threshold < 1)
      throw new NtpConfigError('NO_THRESHOLD', NTP_CONFIG_ERRORS.threshold);
    if (config.server_threshold > config.num_servers)
      throw new NtpConfigError('TOO_FEW_SERVERS', NTP_CONFIG_ERRORS.tooFewServers);
  }
  if (config.request_timeout < 1 || config.max_time_delta < config.request_timeout) {
    throw new NtpConfigError('DELTA_TOO_SMALL', NTP_CONFIG_ERRORS.deltaTooSmall);
  }
  if (withServers && config.request_attempts < 1)
    throw new NtpConfigError('INVALID_ATTEMPTS', NTP_CONFIG_ERRORS.attempts);
  if (config.period < 1) throw new NtpConfigError('INVALID_PERIOD', NTP_CONFIG_ERRORS.period);
  if (withServers && config.request_attempts > MAX_REQUEST_ATTEMPTS)
    throw new NtpConfigError('INVALID_ATTEMPTS', NTP_CONFIG_ERRORS.attemptsTooMany);
  if (config.request_timeout > MAX_REQUEST_TIMEOUT_S)
    throw new NtpConfigError('INVALID_TIMEOUT', NTP_CONFIG_ERRORS.timeoutTooLong);
  if (config.period > MAX_PERIOD_S)
    throw new NtpConfigError('INVALID_PERIOD', NTP_CONFIG_ERRORS.periodTooLong);
  // Host (however spelt: serverKey) and port: the entry that named it first.
  const listed = new Map<string, string>();
  for (const entry of servers) {
    let address: NtpServerAddress;
    try {
      address = parseServerAddress(entry);
    } catch (error) {
      throw new NtpConfigError('INVALID_SERVER', (error as Error).message, { cause: error });
    }
    // One server listed twice would count as two agreeing with the clock. Names that differ but
    // resolve to one server are counted once per answering address instead (round.ts).
    const key = serverKey(address.host, address.port);
    const first = listed.get(key);
    if (first !== undefined) {
      throw new NtpConfigError(
        'DUPLICATE_SERVER',
        `ntp server ${JSON.stringify(address.name)} is listed twice (as ${JSON.stringify(first)} and ${JSON.stringify(address.name)}): one server must not count as two`,
      );
    }
    listed.set(key, address.name);
  }
}

/** Reads `path` (or the embedded Go default when empty), parses and validates it. */
export async function loadNtpConfig(path = '', withServers = true): Promise<NtpMonitoringConfig> {
  let text = DEFAULT_NTP_CONFIG_YAML;
  if (path) {
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      throw new NtpConfigError(
        'FILE_UNREADABLE',
        `failed to read file: ${path} ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  }
  const config = parseNtpConfig(text);
  validateNtpConfig(config, withServers);
  return config;
}

/** What the monitor runs on: milliseconds, so tests can use short periods. */
export interface ClockMonitorSettings {
  servers: readonly NtpServerAddress[];
  numServers: number;
  serverThreshold: number;
  requestAttempts: number;
  requestTimeoutMs: number;
  maxTimeDeltaMs: number;
  periodMs: number;
  /** Pause between two attempts on one server (Go: 1 s). */
  retryDelayMs: number;
}

/** The monitor settings of a validated Go configuration. */
export function toMonitorSettings(config: NtpMonitoringConfig): ClockMonitorSettings {
  return {
    servers: config.servers.map(parseServerAddress),
    numServers: config.num_servers,
    serverThreshold: config.server_threshold,
    requestAttempts: config.request_attempts,
    requestTimeoutMs: config.request_timeout * 1000,
    maxTimeDeltaMs: config.max_time_delta * 1000,
    periodMs: config.period * 1000,
    retryDelayMs: 1000,
  };
}

import { ConfigError } from './config-error.js';
import {
  BYTE_SIZE_FORMS,
  DurationError,
  formatDuration,
  parseByteSize,
  parseDuration,
} from './duration.js';
import { GO_BOOLEAN_SPELLINGS, parseGoBool } from './go-bool.js';
import type { OptionSpec } from './option-spec.js';
import { MASK } from './print-config.js';
import { parsePreviousChains, parseProfiles } from './profiles.js';
import { checkServeConfig } from './rules.js';
import { SERVE_OPTIONS, type ServeConfig, type ServeOptionName } from './schema.js';

export { ConfigError };

/** Explicitly given values of one layer (flags, environment, config file), by option name. */
export type ConfigValues = Partial<Record<ServeOptionName, unknown>>;

/** One layer and where it came from, named in errors ("config file /etc/tsa.yaml", "environment"). */
export interface ConfigLayer {
  source: string;
  values: ConfigValues;
  /** How an option is named in this layer's errors; defaults to `--flag`. */
  nameOf?: (spec: OptionSpec<unknown>) => string;
  /** What reading the layer warns about (two names of one option set alike), for the CLI to print. */
  warnings?: readonly string[];
  /** A config file's `profiles:` and `previous-chains:`, as read (the file layer only). */
  profiles?: unknown;
  previousChains?: unknown;
}

const flagName = (spec: OptionSpec<unknown>) => `--${spec.flag}`;

/** Go's other forms (0x1F, 0o17, 0b1, 1_000) are refused rather than read differently. */
const INTEGER_FORM = 'expected a whole number in decimal digits, without a sign';

const EXPECTED: Record<string, string> = {
  boolean: GO_BOOLEAN_SPELLINGS,
  integer: 'a whole number',
  duration: 'a duration such as 30s, 1m30s or 250ms',
  size: BYTE_SIZE_FORMS,
  list: 'a comma-separated list',
  string: 'a string',
};

/** What an option takes, for errors that do not show the value. */
const expected = (spec: OptionSpec<unknown>) =>
  spec.choices ? `one of ${spec.choices.join(', ')}` : (EXPECTED[spec.kind] ?? spec.kind);

/** Converts one raw value (a flag's or variable's string, or a parsed file value) to the option's kind. */
export function parseOptionValue(
  spec: OptionSpec<unknown>,
  raw: unknown,
  name: string = flagName(spec),
): unknown {
  // A secret's value is never echoed, even a wrong one: it may be the real secret, mistyped.
  const shown = spec.secret
    ? `(not shown: secret; expected ${expected(spec)})`
    : JSON.stringify(raw);
  const invalid = (why?: string): never => {
    throw new ConfigError(
      'INVALID_VALUE',
      `invalid value for ${name}: ${shown}${why ? ` (${why})` : ''}`,
    );
  };
  let value: unknown;
  switch (spec.kind) {
    case 'boolean':
      // A file's unquoted 1 or 0 is a number: read as its text, as a flag's would be.
      value =
        typeof raw === 'boolean'
          ? raw
          : typeof raw === 'string' || typeof raw === 'number'
            ? parseGoBool(String(raw))
            : undefined;
      if (value === undefined) invalid(`expected ${GO_BOOLEAN_SPELLINGS}`);
      break;
    case 'integer': {
      const text = typeof raw === 'number' ? String(raw) : raw;
      if (typeof text !== 'string' || !/^\d+$/.test(text)) invalid(INTEGER_FORM);
      // Go (pflag, viper, yaml.v3) reads a leading zero as octal: its 010 is 8, where Number's is 10.
      if (/^0\d/.test(text as string))
        invalid('a leading zero: Go reads 010 as octal, 8; write the number without it');
      value = Number(text);
      if (!Number.isSafeInteger(value)) invalid(`too large: at most ${Number.MAX_SAFE_INTEGER}`);
      break;
    }
    case 'duration':
      if (typeof raw !== 'string' && typeof raw !== 'number') invalid();
      try {
        // Held in whole milliseconds (a file's bare 0 is Go's "0"), rounded up: a nonzero
        // duration under 1 ms must not become 0, which turns a timeout off.
        value = Math.ceil(parseDuration(String(raw)));
      } catch (error) {
        if (!(error instanceof DurationError)) throw error;
        invalid(spec.secret ? undefined : error.reason);
      }
      break;
    case 'size':
      value =
        typeof raw === 'number' || typeof raw === 'string' ? parseByteSize(String(raw)) : undefined;
      if (value === undefined) invalid(`expected ${BYTE_SIZE_FORMS}`);
      break;
    case 'list':
      if (Array.isArray(raw) && raw.every((item) => ['string', 'number'].includes(typeof item))) {
        value = raw.map(String);
      } else if (typeof raw === 'string') {
        value = raw
          .split(',')
          .map((item) => item.trim())
          .filter(Boolean);
      } else invalid();
      break;
    case 'string':
      if (typeof raw !== 'string' && typeof raw !== 'number') invalid();
      value = String(raw);
      break;
  }
  // --print-config's output saved as a config file: its secrets are masks, not secrets.
  if (spec.secret && value === MASK) {
    throw new ConfigError(
      'INVALID_VALUE',
      `invalid value for ${name}: ${MASK} is how --print-config masks a secret, not the secret: give it again`,
    );
  }
  if (typeof value === 'number') checkBounds(spec, value, invalid);
  if (spec.choices && !spec.choices.includes(String(value).toLowerCase())) {
    throw new ConfigError(
      'INVALID_VALUE',
      `invalid value for ${name}: ${shown} (valid: ${spec.choices.join(', ')})`,
    );
  }
  return spec.choices ? String(value).toLowerCase() : value;
}

/** An integer, duration or size within the option's bounds. */
function checkBounds(
  spec: OptionSpec<unknown>,
  value: number,
  invalid: (why: string) => never,
): void {
  const show = (bound: number) => (spec.kind === 'duration' ? formatDuration(bound) : bound);
  if (spec.min !== undefined && value < spec.min) invalid(`at least ${show(spec.min)}`);
  if (spec.max !== undefined && value > spec.max) invalid(`at most ${show(spec.max)}`);
}

/**
 * The configuration from defaults overlaid by layers, later layers winning, checked by the rules
 * (rules.ts), with the warnings they return.
 */
export function resolveLayers(layers: readonly ConfigLayer[]): {
  config: ServeConfig;
  warnings: string[];
} {
  const config: Record<string, unknown> = {};
  const overridden: string[] = [];
  // Where each option not given as a flag came from: `environment ACCURACY`, `config file … key "workers"`.
  const origins = new Map<ServeOptionName, string>();
  const options = Object.entries(SERVE_OPTIONS) as [ServeOptionName, OptionSpec<unknown>][];
  for (const [name, spec] of options) {
    config[name] = spec.default;
    const setting = layers.filter((layer) => layer.values[name] !== undefined);
    const winner = setting.at(-1);
    if (winner && winner.source !== 'flags') origins.set(name, whereGiven(winner, spec));
    for (const [index, layer] of setting.entries()) {
      try {
        config[name] = parseOptionValue(spec, layer.values[name], (layer.nameOf ?? flagName)(spec));
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        const message =
          layer.source === 'flags' ? error.message : `${layer.source}: ${error.message}`;
        // A bad value a later layer overrides is only warned about: the Go server never reads
        // a variable its flag overrides, and generic names (LOG_LEVEL, PORT) are set for other
        // programs too.
        if (index < setting.length - 1) {
          const by = whereGiven(winner as ConfigLayer, spec);
          overridden.push(`${message}: ignored, as ${by} sets ${spec.flag}`);
          continue;
        }
        if (layer.source === 'flags') throw error;
        throw new ConfigError(error.code, message, { cause: error });
      }
    }
  }
  const defaults = Object.fromEntries(options.map(([name, spec]) => [name, spec.default]));
  for (const layer of layers) {
    if (layer.profiles !== undefined) {
      config.profiles = parseProfiles(
        layer.profiles,
        layer.source,
        defaults as unknown as ServeConfig,
        parseOptionValue,
      );
    }
    if (layer.previousChains !== undefined)
      config.previousChains = parsePreviousChains(layer.previousChains, layer.source);
  }
  const resolved = Object.freeze(config) as unknown as ServeConfig;
  const warnings = [
    ...layers.flatMap((layer) => layer.warnings ?? []),
    ...overridden,
    ...secretsOnTheCommandLine(layers),
    ...withOrigins(() => checkServeConfig(resolved), origins),
  ];
  return { config: resolved, warnings };
}

/** Where `layer` gives `spec`: `--port`, `environment PORT`, `config file … key "port"`. */
const whereGiven = (layer: ConfigLayer, spec: OptionSpec<unknown>): string =>
  layer.source === 'flags' ? flagName(spec) : `${layer.source} ${(layer.nameOf ?? flagName)(spec)}`;

/**
 * The rules between options (rules.ts) name options by flag; a refusal of a value that came from
 * the environment or a config file also says where it came from, as a value's own errors do.
 */
function withOrigins(
  check: () => string[],
  origins: ReadonlyMap<ServeOptionName, string>,
): string[] {
  try {
    return check();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const named = [...origins]
      .filter(([name]) =>
        new RegExp(`--${SERVE_OPTIONS[name].flag}(?![a-z0-9-])`).test(error.message),
      )
      .map(([, origin]) => origin);
    if (named.length === 0) throw error;
    throw new ConfigError(error.code, `${error.message} (from ${named.join(', ')})`, {
      cause: error,
    });
  }
}

/** A PKCS#11 URI's PIN given inline (RFC 7512 `pin-value`), not by `pin-source`. */
const carriesPinValue = (value: string) => /^pkcs11:/i.test(value) && /pin-value=/i.test(value);

/**
 * Secrets a flag can carry, whether a value carries one, and where else to give them: a flag's
 * value is in the process list (`ps`, /proc/<pid>/cmdline) for every user of the machine to read,
 * and in shell history.
 */
const SECRET_FLAGS: readonly [ServeOptionName, (value: string) => boolean, string][] = [
  ['fileSignerPasswd', () => true, '--file-signer-passwd-file or FILE_SIGNER_PASSWD'],
  ['tinkHcvaultToken', () => true, '--tink-hcvault-token-file or TINK_HCVAULT_TOKEN'],
  // A database URL is a secret only when it carries a password
  // (as redactUrl reads it: any query parameter whose name holds "password", sslpassword too).
  [
    'ledgerUrl',
    (value) => /^[^/]*\/\/[^/@]*:[^/@]*@|[?&][^=&]*password[^=&]*=/i.test(value),
    'TIMESTAMP_LEDGER_URL or a config file',
  ],
  [
    'pkcs11Uri',
    carriesPinValue,
    'pin-source=file:/path/to/pin in place of pin-value, or PKCS11_URI',
  ],
  [
    'ledgerKey',
    carriesPinValue,
    'pin-source=file:/path/to/pin in place of pin-value, or LEDGER_KEY',
  ],
];

/** A warning for each secret given as a flag (accepted, as in the Go server, but visible). */
function secretsOnTheCommandLine(layers: readonly ConfigLayer[]): string[] {
  const flags = layers.find((layer) => layer.source === 'flags')?.values ?? {};
  return SECRET_FLAGS.filter(([name, carriesSecret]) => {
    const value = flags[name];
    return typeof value === 'string' && value !== '' && carriesSecret(value);
  }).map(
    ([name, , instead]) =>
      `--${SERVE_OPTIONS[name].flag} on the command line is visible to every user of this machine in the process list; give it with ${instead} instead`,
  );
}

/** The configuration from defaults overlaid by explicitly given values (later layers win). */
export function resolveServeConfig(...layers: ConfigValues[]): ServeConfig {
  return resolveLayers(layers.map((values) => ({ source: 'flags', values }))).config;
}

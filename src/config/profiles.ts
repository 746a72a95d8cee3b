import { ConfigError } from './config-error.js';
import { DurationError, parseDuration } from './duration.js';
import { parseRfc3339 } from '../rfc3339.js';
import { shownKey } from './key-name.js';
import type { OptionSpec } from './option-spec.js';
import { SERVE_OPTIONS, type ServeConfig, type ServeOptionName } from './schema.js';
import {
  SIGNER_OPTIONS,
  signerConfigFrom,
  signerOptionsIgnoredBy,
  type SignerConfig,
} from './signer-config.js';

/**
 * TSA profiles (config file only): the top-level settings are the default profile; `profiles:`
 * adds named ones, each with its own signer, chain, policies and token options.
 */

/** A retired chain a profile once signed with; its tokens stay verifiable (trusted root). */
export interface PreviousChain {
  /** PEM file, leaf first. */
  path: string;
  /** When the key stopped signing (RFC 3339); without it, the next chain's leaf notBefore. */
  retired?: Date;
}

/** A named profile, validated. */
export interface ProfileConfig {
  /** URL-safe: POST /api/v1/timestamp/<name>. */
  name: string;
  /** Where it was read ("config file /etc/tsa.yaml"), for errors that name it. */
  source: string;
  /** Dotted OIDs the profile accepts; the first is its default policy. */
  policyOids: readonly string[];
  signer: SignerConfig;
  /** The chain file ('' for the memory signer). */
  certificateChainPath: string;
  /** Accuracy declared in its tokens, whole seconds. */
  accuracySeconds: number;
  /** With certReq, embed the whole chain. */
  includeChain: boolean;
  /** Its tokens state that they are EU qualified time-stamps (`qualified`). */
  qualified: boolean;
  previousChains: readonly PreviousChain[];
  /** The options the profile set, parsed, by option name (--print-config writes them back). */
  options: Readonly<Partial<Record<ServeOptionName, unknown>>>;
}

declare module './schema.js' {
  interface FileOnlySettings {
    /** Named TSA profiles besides the default one (config file `profiles:`). */
    readonly profiles?: readonly ProfileConfig[];
    /** Retired chains of the default profile (config file `previous-chains:`). */
    readonly previousChains?: readonly PreviousChain[];
  }
}

/** Lowercase letters, digits and inner hyphens: a path segment, a metric label, a log field. */
const PROFILE_NAME = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;
/** Path segments of the timestamp routes, and the default profile's own name. */
export const RESERVED_PROFILE_NAMES: readonly string[] = ['default', 'certchain', 'trusted-root'];
export const DEFAULT_PROFILE_NAME = 'default';
/**
 * Dotted arcs without leading zeros (one spelling per OID), of any size: der.ts encodes arcs as
 * BigInt, and a UUID OID (2.25.<UUID as an integer>, X.667) has a 39-digit arc.
 */
const DOTTED_OID = /^([0-2])\.(0|[1-9]\d*)(?:\.(?:0|[1-9]\d*))*$/;

/**
 * An OID in canonical dotted form, or a ConfigError: `1.2.03` would be the OID of `1.2.3` (two
 * spellings defeat the one-policy-one-profile rule), and `1.40` has no encoding (der.ts would
 * refuse it only once the signer is built). `what` names the value: `--default-policy-oid`.
 */
export function checkDottedOid(dotted: string, what: string): void {
  const match = DOTTED_OID.exec(dotted);
  if (match && (match[1] === '2' || Number(match[2]) <= 39)) return;
  throw new ConfigError(
    'INVALID_VALUE',
    `${what}: invalid OID ${JSON.stringify(dotted)} (dotted, without leading zeros: first arc 0 to 2, second at most 39 under 0 and 1)`,
  );
}

/**
 * The top-level options a profile may set: the signer's (SIGNER_OPTIONS, by prefix, so that the
 * options of a new signer work in profiles without a change here) and the token's.
 */
const PROFILE_OPTION_NAMES = new Set<ServeOptionName>([
  ...SIGNER_OPTIONS,
  'timestampSigner',
  'timestampSignerHash',
  'includeChainInResponse',
  'qualified',
]);
const PROFILE_ONLY_KEYS = new Set(['name', 'policy-oids', 'accuracy', 'previous-chains']);

const PROFILE_OPTIONS = new Map(
  (Object.entries(SERVE_OPTIONS) as [ServeOptionName, OptionSpec<unknown>][])
    .filter(([name]) => PROFILE_OPTION_NAMES.has(name))
    .map(([name, spec]) => [spec.flag, { name, spec }] as const),
);

/** A raw option value parser (resolve.ts's), passed in to keep one parser without an import cycle. */
export type ParseOption = (spec: OptionSpec<unknown>, raw: unknown, label: string) => unknown;

const isMapping = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** `previous-chains:` of a profile or of the top level: paths, or `{path, retired}` mappings. */
export function parsePreviousChains(raw: unknown, where: string): PreviousChain[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw))
    throw new ConfigError('INVALID_VALUE', `${where}: previous-chains must be a list`);
  return raw.map((entry, index) => {
    const label = `${where}: previous-chains[${index}]`;
    if (typeof entry === 'string' && entry !== '') return { path: entry };
    if (!isMapping(entry) || typeof entry.path !== 'string' || entry.path === '')
      throw new ConfigError('INVALID_VALUE', `${label}: expected a file path or {path, retired}`);
    for (const key of Object.keys(entry))
      if (key !== 'path' && key !== 'retired')
        throw new ConfigError('UNKNOWN_KEY', `${label}: unknown key ${shownKey(key)}`);
    if (entry.retired === undefined) return { path: entry.path };
    const retired =
      entry.retired instanceof Date
        ? entry.retired
        : typeof entry.retired === 'string'
          ? parseRfc3339(entry.retired)
          : undefined;
    if (!retired || Number.isNaN(retired.getTime()))
      throw new ConfigError(
        'INVALID_VALUE',
        `${label}: retired must be an RFC 3339 time, e.g. 2026-01-31T00:00:00Z`,
      );
    return { path: entry.path, retired };
  });
}

/** One `profiles:` entry, over the option defaults (a profile inherits nothing from the top level). */
function parseProfile(
  raw: unknown,
  index: number,
  source: string,
  defaults: ServeConfig,
  parse: ParseOption,
): ProfileConfig {
  const where = `${source}: profiles[${index}]`;
  if (!isMapping(raw)) throw new ConfigError('INVALID_VALUE', `${where}: expected a mapping`);
  // `name: 123` is a YAML number; as written, it is a name of digits.
  const name = typeof raw.name === 'number' ? String(raw.name) : raw.name;
  if (typeof name !== 'string' || !PROFILE_NAME.test(name))
    throw new ConfigError(
      'INVALID_VALUE',
      `${where}: name must be 1 to 32 lowercase letters, digits or inner hyphens`,
    );
  const at = `${source}: profile "${name}"`;
  if (RESERVED_PROFILE_NAMES.includes(name))
    throw new ConfigError('INVALID_VALUE', `${at}: the name "${name}" is reserved`);
  const values: Record<string, unknown> = { ...defaults };
  const options: Partial<Record<ServeOptionName, unknown>> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (PROFILE_ONLY_KEYS.has(key)) continue;
    const option = PROFILE_OPTIONS.get(key);
    if (!option) throw new ConfigError('UNKNOWN_KEY', `${at}: unknown key ${shownKey(key)}`);
    if (value === null) throw new ConfigError('INVALID_VALUE', `${at}: key "${key}" has no value`);
    try {
      values[option.name] = options[option.name] = parse(option.spec, value, `key "${key}"`);
    } catch (error) {
      if (error instanceof ConfigError)
        throw new ConfigError(error.code, `${at}: ${error.message}`, { cause: error });
      throw error;
    }
  }
  const policies = raw['policy-oids'];
  // A YAML list, or a comma-separated string as the top-level list options take.
  const policyOids = Array.isArray(policies)
    ? policies.map(String)
    : typeof policies === 'string'
      ? policies
          .split(',')
          .map((oid) => oid.trim())
          .filter(Boolean)
      : [];
  if (policyOids.length === 0)
    throw new ConfigError(
      'INVALID_VALUE',
      `${at}: policy-oids must list at least one OID (the first is the default)`,
    );
  for (const dotted of policyOids) checkDottedOid(dotted, `${at}: policy-oids`);
  const config = values as unknown as ServeConfig;
  // Refused, not ignored (the top level only warns, as Go does): a profile that forgot its
  // timestamp-signer would otherwise serve a throw-away in-memory key in place of its own.
  const ignored = signerOptionsIgnoredBy(config.timestampSigner, Object.keys(options));
  if (ignored.length > 0) {
    const keys = ignored.map((option) => SERVE_OPTIONS[option].flag);
    const signer =
      options.timestampSigner === undefined
        ? `memory signer (the default: the profile sets no timestamp-signer)`
        : `${config.timestampSigner} signer`;
    throw new ConfigError(
      'CONFLICTING_OPTIONS',
      `${at}: ${keys.join(', ')} ${keys.length === 1 ? 'is' : 'are'} not used by its ${signer}; ` +
        `set the profile's timestamp-signer, or remove ${keys.length === 1 ? 'it' : 'them'}`,
    );
  }
  return {
    name,
    source,
    policyOids,
    signer: signerConfigFrom(config),
    certificateChainPath: config.certificateChainPath,
    accuracySeconds: parseAccuracy(raw.accuracy, at),
    includeChain: config.includeChainInResponse,
    qualified: config.qualified,
    previousChains: parsePreviousChains(raw['previous-chains'], at),
    options,
  };
}

/** `accuracy`: whole seconds, at least 1 (the clock gate holds the clock to 1 s). */
function parseAccuracy(raw: unknown, at: string): number {
  if (raw === undefined) return 1;
  let ms: number | undefined;
  try {
    if (typeof raw === 'string' || typeof raw === 'number') ms = parseDuration(String(raw));
  } catch (error) {
    if (!(error instanceof DurationError)) throw error;
  }
  if (ms === undefined || ms < 1000 || ms % 1000 !== 0 || ms > 3_600_000)
    throw new ConfigError(
      'INVALID_VALUE',
      `${at}: accuracy must be whole seconds from 1s to 1h, e.g. 1s`,
    );
  return ms / 1000;
}

/** `profiles:` of a config file. */
export function parseProfiles(
  raw: unknown,
  source: string,
  defaults: ServeConfig,
  parse: ParseOption,
): ProfileConfig[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw))
    throw new ConfigError('INVALID_VALUE', `${source}: profiles must be a list`);
  return raw.map((entry, index) => parseProfile(entry, index, source, defaults, parse));
}

import { stringify } from 'yaml';
import { holdsKeyMaterial } from '../shown-path.js';
import { formatDuration } from './duration.js';
import { withoutUserinfo } from './key-uri.js';
import type { OptionSpec } from './option-spec.js';
import type { PreviousChain } from './profiles.js';
import { SERVE_OPTIONS, type ServeConfig } from './schema.js';

export const MASK = '********';

/**
 * The effective configuration as a config file (keys = flag names), so it can be saved and reused.
 * Options marked secret are masked when set.
 */
export function formatConfig(
  config: ServeConfig,
  options: Record<string, OptionSpec<unknown>> = SERVE_OPTIONS,
): string {
  const out = byFlag(config as unknown as Record<string, unknown>, options);
  if (config.previousChains?.length) out['previous-chains'] = chainsOut(config.previousChains);
  if (config.profiles?.length) {
    out.profiles = config.profiles.map((profile) => ({
      name: profile.name,
      'policy-oids': profile.policyOids,
      accuracy: `${profile.accuracySeconds}s`,
      ...byFlag(profile.options, options),
      ...(profile.previousChains.length > 0
        ? { 'previous-chains': chainsOut(profile.previousChains) }
        : {}),
    }));
  }
  return stringify(out);
}

/** The given values by flag name, secrets masked, durations in Go's spelling. */
function byFlag(
  values: Readonly<Record<string, unknown>>,
  options: Record<string, OptionSpec<unknown>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(options)) {
    const value = values[name];
    if (value === undefined) continue; // an option that is not given (Go-only ones)
    if (spec.secret && value !== '') out[spec.flag] = MASK;
    // Key material where a path belongs (a Secret mapped onto the wrong variable), whatever the option.
    else if (holdsKeyMaterial(value)) out[spec.flag] = MASK;
    else if (spec.kind === 'duration') out[spec.flag] = formatDuration(value as number);
    // A URI with credentials (refused as a key URI, but printed before that check runs).
    else if (typeof value === 'string') out[spec.flag] = withoutUserinfo(value, MASK);
    else out[spec.flag] = value;
  }
  return out;
}

const chainsOut = (chains: readonly PreviousChain[]) =>
  chains.map(({ path, retired }) => (retired ? { path, retired: retired.toISOString() } : path));

/**
 * An option's default as a flag value (`30s`, `a,b`), as --help shows it; undefined when there is
 * nothing to show (an empty string or list, or no default).
 */
export function formatDefault(spec: OptionSpec<unknown>): string | undefined {
  const value = spec.default;
  if (value === undefined || value === '') return undefined;
  if (Array.isArray(value)) return value.length > 0 ? value.join(',') : undefined;
  if (spec.kind === 'duration') return formatDuration(value as number);
  return String(value);
}

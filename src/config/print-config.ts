import { stringify } from 'yaml';
import { formatDuration } from './duration.js';
import { SERVE_OPTIONS, type OptionSpec, type ServeConfig } from './schema.js';

export const MASK = '********';

/**
 * The effective configuration as a config file (keys = flag names), so it can be saved and reused.
 * Options marked secret are masked when set.
 */
export function formatConfig(
  config: ServeConfig,
  options: Record<string, OptionSpec<unknown>> = SERVE_OPTIONS,
): string {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(options)) {
    const value = (config as Record<string, unknown>)[name];
    if (spec.secret && value !== '' && value !== undefined) out[spec.flag] = MASK;
    else if (spec.kind === 'duration') out[spec.flag] = formatDuration(value as number);
    else out[spec.flag] = value;
  }
  return stringify(out);
}

import {
  SERVE_OPTIONS,
  type OptionSpec,
  type ServeConfig,
  type ServeOptionName,
} from './schema.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Converts one raw value (a flag's string, or a parsed file value) to the option's kind. */
export function parseOptionValue(spec: OptionSpec<unknown>, raw: unknown): unknown {
  const invalid = (): never => {
    throw new ConfigError(`invalid value for --${spec.flag}: ${JSON.stringify(raw)}`);
  };
  let value: unknown;
  switch (spec.kind) {
    case 'boolean':
      if (typeof raw === 'boolean') value = raw;
      else if (raw === 'true' || raw === '1') value = true;
      else if (raw === 'false' || raw === '0') value = false;
      else invalid();
      break;
    case 'integer': {
      const text = typeof raw === 'number' ? String(raw) : raw;
      if (typeof text !== 'string' || !/^\d+$/.test(text)) invalid();
      value = Number(text);
      if (!Number.isSafeInteger(value)) invalid();
      break;
    }
    case 'list':
      if (Array.isArray(raw)) value = raw.map(String);
      else if (typeof raw === 'string')
        value = raw
          .split(',')
          .map((item) => item.trim())
          .filter(Boolean);
      else invalid();
      break;
    case 'string':
      if (typeof raw !== 'string' && typeof raw !== 'number') invalid();
      value = String(raw);
      break;
  }
  if (spec.choices && !spec.choices.includes(String(value).toLowerCase())) {
    throw new ConfigError(
      `invalid value for --${spec.flag}: ${JSON.stringify(raw)} (valid: ${spec.choices.join(', ')})`,
    );
  }
  return spec.choices ? String(value).toLowerCase() : value;
}

/** The configuration from defaults overlaid by explicitly given values (later layers win). */
export function resolveServeConfig(
  ...layers: Partial<Record<ServeOptionName, unknown>>[]
): ServeConfig {
  const config: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(SERVE_OPTIONS) as [
    ServeOptionName,
    OptionSpec<unknown>,
  ][]) {
    config[name] = spec.default;
    for (const layer of layers) {
      if (layer[name] !== undefined) config[name] = parseOptionValue(spec, layer[name]);
    }
  }
  return Object.freeze(config) as ServeConfig;
}

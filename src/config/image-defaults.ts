import { ConfigError } from './config-error.js';
import { environmentName, isSet, variableNameOf } from './environment.js';
import type { OptionSpec } from './option-spec.js';
import type { ConfigLayer, ConfigValues } from './resolve.js';
import { SERVE_OPTIONS, type ServeOptionName } from './schema.js';

/**
 * TIMESTAMP_SERVER_DEFAULT_<FLAG_NAME>: a default of a packaged server (the container image sets
 * TIMESTAMP_SERVER_DEFAULT_HOST=0.0.0.0). It is a layer between the built-in defaults and the
 * config file, so a mounted file's `host:` still applies; an image's HOST would beat the file (the
 * environment wins over it) and put a server meant for loopback on every interface.
 */
export const IMAGE_DEFAULT_PREFIX = 'TIMESTAMP_SERVER_DEFAULT_';

/** By variable, for each flag name of an option and its aliases (LISTEN_LIMIT, MAX_CONNECTIONS). */
const OPTION_BY_VARIABLE = new Map<string, { name: ServeOptionName; spec: OptionSpec<unknown> }>(
  (Object.entries(SERVE_OPTIONS) as [ServeOptionName, OptionSpec<unknown>][]).flatMap(
    ([name, spec]) =>
      [spec.flag, ...(spec.aliases ?? [])].map(
        (flag) => [`${IMAGE_DEFAULT_PREFIX}${variableNameOf(flag)}`, { name, spec }] as const,
      ),
  ),
);

const SOURCE = 'image defaults';

/** Where a secret goes at run time: never its flag, which `ps` shows every user. */
function runTimeSecret(spec: OptionSpec<unknown>): string {
  const variable = `the ${environmentName(spec)} environment variable`;
  const file = Object.values(SERVE_OPTIONS).find((other) => other.flag === `${spec.flag}-file`);
  return file ? `--${file.flag} or ${variable}` : `${variable} or a mounted config file`;
}

/**
 * The image-defaults layer. A variable with the prefix that names no option is refused (a typo
 * would otherwise fall back to the built-in default unseen), and so is a secret option's: an
 * image's variables are readable by anyone who can pull or inspect it.
 */
export function readImageDefaults(env: NodeJS.ProcessEnv): ConfigLayer {
  const values: ConfigValues = {};
  // The variable that set each option, by flag, for errors that name it.
  const names = new Map<string, string>();
  for (const [variable, value] of Object.entries(env)) {
    if (!variable.startsWith(IMAGE_DEFAULT_PREFIX) || !isSet(value)) continue;
    const option = OPTION_BY_VARIABLE.get(variable);
    if (!option) {
      throw new ConfigError(
        'UNKNOWN_KEY',
        `${SOURCE}: ${variable} names no option (${IMAGE_DEFAULT_PREFIX} and the flag name in upper case with underscores, e.g. ${IMAGE_DEFAULT_PREFIX}HOST)`,
      );
    }
    if (option.spec.secret) {
      throw new ConfigError(
        'INVALID_VALUE',
        `${SOURCE}: ${variable} sets a secret, which an image must not hold: give it at run time with ${runTimeSecret(option.spec)}`,
      );
    }
    const earlier = names.get(option.spec.flag);
    if (earlier !== undefined && values[option.name] !== value)
      throw new ConfigError(
        'CONFLICTING_OPTIONS',
        `${SOURCE}: ${earlier} and ${variable} both set --${option.spec.flag}, to different values: unset one`,
      );
    names.set(option.spec.flag, variable);
    values[option.name] = value;
  }
  return {
    source: SOURCE,
    values,
    nameOf: (spec) => names.get(spec.flag) ?? `${IMAGE_DEFAULT_PREFIX}${environmentName(spec)}`,
  };
}

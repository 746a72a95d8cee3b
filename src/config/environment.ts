import { ConfigError } from './config-error.js';
import type { ConfigLayer, ConfigValues } from './resolve.js';
import type { OptionSpec } from './option-spec.js';
import { SERVE_OPTIONS, type ServeOptionName } from './schema.js';
import { isServiceLink, serviceLinkWarning } from './service-links.js';

/** TIMESTAMP_SIGNER for timestamp-signer: a flag name in upper case with underscores. */
export const variableNameOf = (flag: string): string => flag.toUpperCase().replaceAll('-', '_');

/** TIMESTAMP_SIGNER for --timestamp-signer; HOST and PORT fall out of the rule as in Go. */
export function environmentName(spec: OptionSpec<unknown>): string {
  return variableNameOf(spec.flag);
}

/**
 * A variable set to the empty string is unset, as in the Go server: viper ignores it
 * (AllowEmptyEnv is false) and so do go-swagger's HOST, PORT and TLS_* overrides. `HOST=` must not
 * put the server on every interface, nor `PORT=` stop it.
 */
export const isSet = (value: string | undefined): value is string =>
  value !== undefined && value !== '';

/**
 * The environment layer. Besides FLAG_NAME, the Go server's viper spelling with dashes
 * (TIMESTAMP-SIGNER, settable in Kubernetes and Docker) and an option's extra names are read.
 * Two of an option's names set (MAX_CONNECTIONS and LISTEN_LIMIT) are refused where their values
 * differ, as no order between them is obvious, and warned about where they agree. A service link
 * (METRICS_PORT=tcp://…, service-links.ts) is ignored with a warning.
 */
export function readEnvironment(env: NodeJS.ProcessEnv): ConfigLayer {
  const values: ConfigValues = {};
  const names = new Map<string, string>();
  const warnings: string[] = [];
  for (const [name, spec] of Object.entries(SERVE_OPTIONS) as [
    ServeOptionName,
    OptionSpec<unknown>,
  ][]) {
    const [found, ...others] = variableNames(spec).filter((variable) => {
      const value = env[variable];
      if (!isSet(value)) return false;
      if (!isServiceLink(variable, value)) return true;
      warnings.push(serviceLinkWarning(variable, spec.flag));
      return false;
    });
    if (found === undefined) continue;
    if (others.length > 0) {
      // Names only: the values may be secrets.
      const set = `${[found, ...others].join(' and ')} ${others.length > 1 ? 'all' : 'both'} set --${spec.flag}`;
      const unset = `unset ${others.length > 1 ? 'all but one' : 'one'}`;
      if (others.some((other) => env[other] !== env[found])) {
        throw new ConfigError(
          'CONFLICTING_OPTIONS',
          `environment: ${set}, to different values: ${unset}`,
        );
      }
      warnings.push(`environment: ${set} (to the same value): ${unset}`);
    }
    values[name] = env[found];
    names.set(spec.flag, found);
  }
  return {
    source: 'environment',
    values,
    warnings,
    nameOf: (spec) => `${names.get(spec.flag) ?? environmentName(spec)}`,
  };
}

/** The variables that may set an option, each once (HOST is both spellings of host). */
function variableNames(spec: OptionSpec<unknown>): string[] {
  const flags = [spec.flag, ...(spec.aliases ?? [])];
  return [
    ...new Set([
      ...flags.flatMap((flag) => [variableNameOf(flag), flag.toUpperCase()]),
      ...(spec.env ?? []),
    ]),
  ];
}

/** The variables of `env` that set a serve option (their values may be secrets). */
export function optionVariables(env: NodeJS.ProcessEnv): string[] {
  return Object.values(SERVE_OPTIONS as Record<string, OptionSpec<unknown>>)
    .flatMap(variableNames)
    .filter((variable) => env[variable] !== undefined);
}

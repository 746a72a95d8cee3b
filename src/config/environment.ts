import type { ConfigLayer, ConfigValues } from './resolve.js';
import type { OptionSpec } from './option-spec.js';
import { SERVE_OPTIONS, type ServeOptionName } from './schema.js';

/** TIMESTAMP_SIGNER for --timestamp-signer; HOST and PORT fall out of the rule as in Go. */
export function environmentName(spec: OptionSpec<unknown>): string {
  return spec.flag.toUpperCase().replaceAll('-', '_');
}

/**
 * The environment layer. Besides FLAG_NAME, the Go server's viper spelling with dashes
 * (TIMESTAMP-SIGNER, settable in Kubernetes and Docker) and an option's extra names are read.
 */
export function readEnvironment(env: NodeJS.ProcessEnv): ConfigLayer {
  const values: ConfigValues = {};
  const names = new Map<string, string>();
  for (const [name, spec] of Object.entries(SERVE_OPTIONS) as [
    ServeOptionName,
    OptionSpec<unknown>,
  ][]) {
    const found = variableNames(spec).find((candidate) => env[candidate] !== undefined);
    if (found === undefined) continue;
    values[name] = env[found];
    names.set(spec.flag, found);
  }
  return {
    source: 'environment',
    values,
    nameOf: (spec) => `${names.get(spec.flag) ?? environmentName(spec)}`,
  };
}

/** The variables that may set an option, in the order they are looked for. */
function variableNames(spec: OptionSpec<unknown>): string[] {
  const flags = [spec.flag, ...(spec.aliases ?? [])];
  return [
    ...flags.flatMap((flag) => [flag.toUpperCase().replaceAll('-', '_'), flag.toUpperCase()]),
    ...(spec.env ?? []),
  ];
}

/** The variables of `env` that set a serve option (their values may be secrets). */
export function optionVariables(env: NodeJS.ProcessEnv): string[] {
  return Object.values(SERVE_OPTIONS as Record<string, OptionSpec<unknown>>)
    .flatMap(variableNames)
    .filter((name) => env[name] !== undefined);
}

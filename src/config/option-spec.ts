/** The shape of one server option; src/config/schema.ts lists them all. */

/** `duration`: Go spelling ("30s", "1m30s", "620s"), held in milliseconds. `size`: bytes, "1MB" allowed. */
export type OptionKind = 'string' | 'integer' | 'boolean' | 'list' | 'duration' | 'size';

export interface OptionSpec<T> {
  /** Flag name without dashes, as the Go server spells it. */
  flag: string;
  kind: OptionKind;
  default: T;
  description: string;
  /** Allowed values of a string option. */
  choices?: readonly string[];
  /** Bounds of an integer, duration (milliseconds) or size option, both included. */
  min?: number;
  max?: number;
  /** Masked when the configuration is printed; never logged. */
  secret?: boolean;
  /**
   * Names a file that holds a secret (a private key, a password, a token). The commonest mistake
   * with such an option is the secret itself where its path belongs (a Kubernetes secretKeyRef of
   * tls.key mapped to TLS_PRIVATE_KEY), so errors (unopenedSecretFile) and warnings name the
   * flag, never the value, until the file was opened; --print-config masks a value that holds key
   * material.
   */
  secretFile?: boolean;
  /** Environment names read besides the derived one (FLAG_NAME), e.g. go-swagger's TLS_PRIVATE_KEY. */
  env?: readonly string[];
  /** Other flag (and config key) names of the option, e.g. Go's --listen-limit for --max-connections. */
  aliases?: readonly string[];
}

/** An option of one of a few strings: its value is typed as their union (ServeConfig keeps it). */
export interface ChoiceSpec<C extends string> extends OptionSpec<C> {
  kind: 'string';
  choices: readonly C[];
}

export function option<T>(spec: OptionSpec<T>): OptionSpec<T> {
  return spec;
}

export function choice<const C extends string>(
  spec: Omit<ChoiceSpec<C>, 'kind' | 'default'> & { default: NoInfer<C> },
): ChoiceSpec<C> {
  return { ...spec, kind: 'string' };
}

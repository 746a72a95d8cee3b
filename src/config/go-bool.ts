/**
 * Go's strconv.ParseBool, which pflag uses for a boolean flag and viper (cast.ToBool) for one from
 * the environment or a config file: exactly these spellings, nothing else (no yes/no, no On).
 */
const GO_BOOLEANS: ReadonlyMap<string, boolean> = new Map([
  ...['1', 't', 'T', 'TRUE', 'true', 'True'].map((text) => [text, true] as const),
  ...['0', 'f', 'F', 'FALSE', 'false', 'False'].map((text) => [text, false] as const),
]);

/** The boolean `text` spells as Go reads it, or undefined. */
export function parseGoBool(text: string): boolean | undefined {
  return GO_BOOLEANS.get(text);
}

/** The spellings, for messages. */
export const GO_BOOLEAN_SPELLINGS =
  'true or false; also 1, t, T, TRUE, True, 0, f, F, FALSE, False';

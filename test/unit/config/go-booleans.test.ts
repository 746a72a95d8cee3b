import { describe, expect, it } from 'vitest';
import { parseBoolean } from '../../../src/cli/timestamp-cli/arguments.js';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import { configRefusal, loadFromEnvAndFile } from '../../helpers/config-layers.js';

/** Go's strconv.ParseBool: pflag reads boolean flags with it, viper's cast.ToBool variables and files. */
const TRUE = ['1', 't', 'T', 'TRUE', 'true', 'True'];
const FALSE = ['0', 'f', 'F', 'FALSE', 'false', 'False'];
const NEITHER = ['yes', 'no', 'on', 'off', 'tRUE', 'y', '2', ' true', ''];

describe("a boolean option takes exactly Go's spellings", () => {
  it.each([
    ...TRUE.map((text) => [text, true] as const),
    ...FALSE.map((text) => [text, false] as const),
  ])('%s is %s as a flag, a variable and a config file value', (text, expected) => {
    expect(resolveServeConfig({ useHttp201: text }).useHttp201).toBe(expected);
    expect(loadFromEnvAndFile({ USE_HTTP_201: text }).config.useHttp201).toBe(expected);
    // Quoted in the file, as a string; the bare spelling as YAML reads it (true, 1, t …).
    expect(loadFromEnvAndFile({}, `use-http-201: "${text}"\n`).config.useHttp201).toBe(expected);
    expect(loadFromEnvAndFile({}, `use-http-201: ${text}\n`).config.useHttp201).toBe(expected);
    expect(parseBoolean(text)).toBe(expected);
  });

  it.each(NEITHER)('%j is refused, naming the option', (text) => {
    expect(configRefusal(() => resolveServeConfig({ useHttp201: text })).message).toBe(
      `invalid value for --use-http-201: ${JSON.stringify(text)} (expected true or false; also 1, t, T, TRUE, True, 0, f, F, FALSE, False)`,
    );
    expect(() => parseBoolean(text)).toThrow(
      `"${text}" is not a boolean (true or false; also 1, t, T, TRUE, True, 0, f, F, FALSE, False)`,
    );
  });

  it('a bare flag is true in timestamp-cli', () => {
    expect(parseBoolean(undefined)).toBe(true);
  });
});

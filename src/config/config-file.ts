import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseDocument, visit, type Document, type YAMLError } from 'yaml';
import { ConfigError, type ConfigLayer, type ConfigValues } from './resolve.js';
import type { OptionSpec } from './option-spec.js';
import { SERVE_OPTIONS, type ServeOptionName } from './schema.js';

/** The Go server's viper search: config name `timestamp-server` in $HOME, then the working directory. */
const CONFIG_NAMES = ['timestamp-server.yaml', 'timestamp-server.yml', 'timestamp-server.json'];

const OPTION_BY_FLAG = new Map(
  (Object.entries(SERVE_OPTIONS) as [ServeOptionName, OptionSpec<unknown>][]).flatMap(
    ([name, spec]) => [spec.flag, ...(spec.aliases ?? [])].map((flag) => [flag, name] as const),
  ),
);

/**
 * YAML error codes whose messages are fixed text. Others (an unexpected token, a bad escape, an
 * unknown tag) quote the source, which may be a password: those are named by their code only.
 */
const QUOTE_FREE_YAML_ERRORS = new Set([
  'ALIAS_PROPS',
  'BAD_INDENT',
  'BLOCK_AS_IMPLICIT_KEY',
  'BLOCK_IN_FLOW',
  'DUPLICATE_KEY',
  'KEY_OVER_1024_CHARS',
  'MISSING_CHAR',
  'MULTILINE_IMPLICIT_KEY',
  'MULTIPLE_ANCHORS',
  'MULTIPLE_DOCS',
  'MULTIPLE_TAGS',
  'NON_STRING_KEY',
  'TAB_AS_INDENT',
]);

/** Own words for the errors whose YAML messages quote the source. */
const YAML_ERROR_WORDS: Record<string, string> = {
  BAD_DQ_ESCAPE: 'invalid escape sequence in a double-quoted string',
  BAD_SCALAR_START: 'a plain value cannot start with this character',
  TAG_RESOLVE_FAILED: 'unknown tag',
  UNEXPECTED_TOKEN: 'unexpected text',
};

/** A YAML error by position, never with the source lines (they may hold a secret). */
function describeYamlError(error: YAMLError): string {
  const [start] = error.linePos ?? [];
  const where = start ? ` at line ${start.line}, column ${start.col}` : '';
  const what = QUOTE_FREE_YAML_ERRORS.has(error.code)
    ? (error.message.split(/ at line \d+, column \d+:|\n/)[0] ?? error.code)
    : `${YAML_ERROR_WORDS[error.code] ?? 'YAML error'} (${error.code})`;
  return `${what}${where}`;
}

/**
 * An unquoted value that YAML reads as a number keeps the text written wherever the number would
 * not print back as that text: a password `0123` is not 123, nor `1e3` 1000, `0x1F` 31, a 20-digit
 * number its float, nor a policy OID `1.20` 1.2. Each option then parses that text as it parses a
 * flag's (`port: 0x1F` is refused, as `--port 0x1F` is); `port: 3000` is the number it was.
 */
function keepNumbersAsWritten(document: Document): void {
  visit(document, {
    Scalar(_key, node) {
      const written = node.source;
      // An explicit tag (`!!int 0123`) asked for the number; a quoted value is a string already.
      if (typeof node.value !== 'number' || node.type !== 'PLAIN' || node.tag !== undefined) return;
      if (written !== undefined && String(node.value) !== written) node.value = written;
    },
  });
}

/** The config file to read: `--config` if given (it must exist), else the first one found. */
export function findConfigFile(
  explicitPath: string | undefined,
  searchDirs: readonly string[],
): string | undefined {
  if (explicitPath) {
    const path = resolve(explicitPath);
    if (!existsSync(path))
      throw new ConfigError('FILE_NOT_FOUND', `config file ${path}: not found`);
    return path;
  }
  for (const dir of searchDirs) {
    for (const name of CONFIG_NAMES) {
      const path = join(dir, name);
      if (existsSync(path) && statSync(path).isFile()) return path;
    }
  }
  return undefined;
}

/**
 * Reads a YAML or JSON config file whose keys are flag names. Anything wrong stops start-up naming
 * the file and key: a server must never quietly start with defaults (the memory signer).
 */
export function readConfigFile(path: string): ConfigLayer {
  const source = `config file ${path}`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(
      'FILE_UNREADABLE',
      `${source}: cannot read: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  const document = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  const [firstError] = document.errors;
  if (firstError) {
    throw new ConfigError(
      'FILE_INVALID',
      `${source}: cannot parse: ${describeYamlError(firstError)}`,
    );
  }
  keepNumbersAsWritten(document);
  const content: unknown = document.toJS();
  if (content === null || content === undefined) return { source, values: {} };
  if (typeof content !== 'object' || Array.isArray(content)) {
    throw new ConfigError('FILE_INVALID', `${source}: expected a mapping of flag names to values`);
  }
  const values: ConfigValues = {};
  const layer: ConfigLayer = { source, values, nameOf: (spec) => `key "${spec.flag}"` };
  for (const [key, value] of Object.entries(content)) {
    // File-only keys (docs/configuration.md, "Profiles"): lists of mappings, not flags.
    if (key === 'profiles') {
      layer.profiles = value;
      continue;
    }
    if (key === 'previous-chains') {
      layer.previousChains = value;
      continue;
    }
    const name = OPTION_BY_FLAG.get(key);
    if (!name) throw new ConfigError('UNKNOWN_KEY', `${source}: unknown key "${key}"`);
    if (value === null)
      throw new ConfigError('INVALID_VALUE', `${source}: key "${key}" has no value`);
    values[name] = value;
  }
  return layer;
}

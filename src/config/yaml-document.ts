import { parseDocument, visit, type Document, type YAMLError } from 'yaml';
import { ConfigError } from './config-error.js';

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

/**
 * The value of a YAML or JSON text, or a ConfigError naming `source` that says what is wrong by
 * line and column, never with a line of the text: it may hold a secret.
 */
export function readYaml(text: string, source: string): unknown {
  const document = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  const [firstError] = document.errors;
  if (firstError) {
    throw new ConfigError(
      'FILE_INVALID',
      `${source}: cannot parse: ${describeYamlError(firstError)}`,
    );
  }
  keepNumbersAsWritten(document);
  return document.toJS();
}

import {
  isAlias,
  isCollection,
  isMap,
  isScalar,
  LineCounter,
  parseDocument,
  visit,
  type Document,
  type YAMLError,
} from 'yaml';
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

/** A YAML text's value, and where its top-level keys are (for errors that do not quote them). */
export interface YamlContent {
  value: unknown;
  /** " at line L, column C" of a top-level key, or '' where it is not found. */
  whereIsKey: (key: string) => string;
}

/**
 * The value of a YAML or JSON text, or a ConfigError naming `source` that says what is wrong by
 * line and column, never with a line of the text: it may hold a secret.
 */
export function readYaml(text: string, source: string): YamlContent {
  const lines = new LineCounter();
  const at = (offset: number) => {
    const { line, col } = lines.linePos(offset);
    return ` at line ${line}, column ${col}`;
  };
  const document = parseDocument(text, {
    uniqueKeys: true,
    prettyErrors: true,
    lineCounter: lines,
  });
  const [firstError] = document.errors;
  if (firstError) {
    throw new ConfigError(
      'FILE_INVALID',
      `${source}: cannot parse: ${describeYamlError(firstError)}`,
    );
  }
  const unresolved = unresolvedAlias(document);
  if (unresolved !== undefined) {
    throw new ConfigError(
      'FILE_INVALID',
      `${source}: cannot parse: an alias (a plain value starting with *) names no anchor before it${at(unresolved)}; quote a value that starts with *`,
    );
  }
  const collectionKey = collectionKeyOffset(document);
  if (collectionKey !== undefined) {
    // toJS would stringify it, and Node warn on stderr, quoting it: it may be a pasted secret.
    throw new ConfigError(
      'FILE_INVALID',
      `${source}: a key that is a list or a map${at(collectionKey)} (not shown): keys are option names`,
    );
  }
  keepNumbersAsWritten(document);
  let value: unknown;
  try {
    value = document.toJS();
  } catch {
    // yaml's message (a ReferenceError: too many aliases, say) may quote the text, and its stack
    // is no help: fixed words, and no cause to print.
    throw new ConfigError(
      'FILE_INVALID',
      `${source}: cannot parse: its aliases (*name) cannot be expanded (too many, or one within its own anchor)`,
    );
  }
  return { value, whereIsKey: (key) => keyOffset(document, key).map(at).join('') };
}

/** The offset of the first alias that names no anchor set before it (toJS would throw), if any. */
function unresolvedAlias(document: Document): number | undefined {
  let offset: number | undefined;
  visit(document, {
    Alias(_key, node) {
      if (node.resolve(document) !== undefined) return undefined;
      offset = node.range?.[0] ?? 0;
      return visit.BREAK;
    },
  });
  return offset;
}

/** The offset of the first key, at any depth, that is a list or a map (`{a: b}: c`), if any. */
function collectionKeyOffset(document: Document): number | undefined {
  let offset: number | undefined;
  visit(document, {
    Pair(_key, pair) {
      const { key } = pair;
      // `*k: x`, where &k is a list or a map, is one too.
      const collection = isAlias(key) ? isCollection(key.resolve(document)) : isCollection(key);
      if (!collection) return undefined;
      offset = (key as { range?: [number, number, number] | null }).range?.[0] ?? 0;
      return visit.BREAK;
    },
  });
  return offset;
}

/** Where a top-level key is, as a list of none or one offset. */
function keyOffset(document: Document, key: string): number[] {
  if (!isMap(document.contents)) return [];
  const pair = document.contents.items.find(
    (item) => isScalar(item.key) && String(item.key.value) === key,
  );
  const range = isScalar(pair?.key) ? pair.key.range : undefined;
  return range ? [range[0]] : [];
}

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The layers of src/, highest first. A module may import from its own layer's folder, from any
 * lower row, and sideways only along an edge listed in SIDEWAYS; never from a higher row. A layer is
 * a folder under src/ or a file at its root. `runtime` is the composition root: it builds the
 * signer, the clock monitor and the listeners of one process (or a cluster) and tears them down.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['cli', 'index.ts'],
  ['runtime'],
  ['server', 'signers', 'clock', 'config', 'ledger'],
  ['tsp'],
  ['x509', 'crypto', 'tlog'],
  ['asn1'],
];

/** Imports allowed inside one row, importer → imported. */
const SIDEWAYS: readonly (readonly [string, string])[] = [
  ['server', 'config'],
  ['signers', 'config'],
  ['ledger', 'config'],
  ['server', 'ledger'],
  ['x509', 'crypto'],
];

/** Leaves anyone may import; they import nothing from src/ but themselves. */
const LEAVES: readonly string[] = [
  'metrics',
  'version.ts',
  'errors.ts',
  'deadline.ts',
  'rfc3339.ts',
  'capped-read.ts',
  'host-lookup.ts',
  'certificate-policy-tree.ts',
  'der-numbers.ts',
  'shown-path.ts',
];

/**
 * Layers apart from the stack: what each may import, and who may import it. verify/ is the
 * verification library (the package's public API), independent of the TSA that issues tokens.
 */
const APART: Readonly<
  Record<string, { imports: readonly string[]; importedBy: readonly string[] }>
> = {
  verify: { imports: [], importedBy: ['cli', 'index.ts'] },
};

const SRC = resolve(import.meta.dirname, '../../../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Path under src/, with forward slashes: "tsp/authority.ts". */
const srcPath = (path: string): string => relative(SRC, path).split(/[\\/]/).join(posix.sep);

/** The layer of a file: its top folder under src/, or its own name at the root. */
const layerOf = (file: string): string => file.split('/')[0]!;

/**
 * Every relative import of every file: static `import`/`export … from`, side-effect imports and
 * `import('…')` with a literal, type-only ones included (a type cycle is still a design cycle).
 */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const path of sourceFiles(SRC)) {
    const { importedFiles } = ts.preProcessFile(readFileSync(path, 'utf8'), true, true);
    const targets = importedFiles
      .map(({ fileName }) => fileName)
      .filter((specifier) => specifier.startsWith('.'))
      .map((specifier) => {
        const target = resolve(dirname(path), specifier.replace(/\.js$/, '.ts'));
        if (!existsSync(target)) throw new Error(`${srcPath(path)} imports missing ${specifier}`);
        return srcPath(target);
      });
    graph.set(srcPath(path), [...new Set(targets)]);
  }
  return graph;
}

function rowOf(layer: string): number | undefined {
  const row = LAYERS.findIndex((names) => names.includes(layer));
  return row === -1 ? undefined : row;
}

/** Why importing `to` from `from` breaks the layering, or undefined when it may. */
function violation(from: string, to: string): string | undefined {
  if (from === to || LEAVES.includes(to)) return undefined;
  if (LEAVES.includes(from)) return `${from} is a leaf and imports nothing from src/`;
  const apartFrom = APART[from];
  if (apartFrom) return apartFrom.imports.includes(to) ? undefined : `${from} may not import ${to}`;
  const apartTo = APART[to];
  if (apartTo)
    return apartTo.importedBy.includes(from)
      ? undefined
      : `only ${apartTo.importedBy.join(', ')} may import ${to}`;
  const fromRow = rowOf(from);
  const toRow = rowOf(to);
  if (fromRow === undefined) return `layer ${from} is not in the layer table`;
  if (toRow === undefined) return `layer ${to} is not in the layer table`;
  if (toRow > fromRow) return undefined;
  if (toRow < fromRow) return `${from} is below ${to}`;
  return SIDEWAYS.some(([a, b]) => a === from && b === to)
    ? undefined
    : `${from} and ${to} are one row and ${from} → ${to} is not an allowed sideways import`;
}

/** One import cycle per strongly connected group of files, as a path back to its start. */
function findCycles(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      const seen = state.get(next);
      if (seen === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (seen === undefined) visit(next);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of [...graph.keys()].sort()) if (!state.has(file)) visit(file);
  return cycles;
}

describe('the layers of src/', () => {
  const graph = importGraph();

  it('reads the imports it checks', () => {
    expect(graph.get('cli/timestamp-server.ts')?.length).toBeGreaterThan(0);
    expect(graph.get('index.ts')).toEqual(['verify/index.ts']);
  });

  it('has no import cycle between files', () => {
    const cycles = findCycles(graph).map((cycle) => cycle.join(' → '));
    expect(cycles).toEqual([]);
  });

  it('imports only downward (or along an allowed sideways edge)', () => {
    const wrong: string[] = [];
    for (const [file, targets] of graph) {
      for (const target of targets) {
        const why = violation(layerOf(file), layerOf(target));
        if (why) wrong.push(`${file} → ${target}: ${why}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('rejects what the table forbids', () => {
    expect(violation('tsp', 'signers')).toBe('tsp is below signers');
    expect(violation('clock', 'server')).toMatch(/not an allowed sideways import/);
    expect(violation('verify', 'tsp')).toBe('verify may not import tsp');
    expect(violation('server', 'verify')).toMatch(/may import verify/);
    expect(violation('metrics', 'server')).toMatch(/leaf/);
    expect(violation('newfolder', 'asn1')).toMatch(/not in the layer table/);
    expect(violation('server', 'metrics')).toBeUndefined();
    expect(violation('x509', 'crypto')).toBeUndefined();
  });
});

/**
 * The transport's words. tsp/ returns plain outcomes (granted, or a failInfo and its message);
 * server/http-outcome.ts alone turns them into statuses, media types and headers. URLs in comments
 * (an RFC's address) are allowed.
 */
const HTTP_WORDS =
  /\bhttp(?!s?:\/\/)|statusCode|grantedStatus|DerRejectionStatus|\bcontentType\s*[:?]|fastify|retry-after/gi;

describe('tsp/ knows nothing of HTTP', () => {
  /** `file:line: match` for each line of a tsp/ file that speaks HTTP. */
  const httpLines = (): string[] =>
    sourceFiles(join(SRC, 'tsp')).flatMap((path) =>
      readFileSync(path, 'utf8')
        .split('\n')
        .flatMap((line, index) =>
          [...line.matchAll(HTTP_WORDS)].map(([word]) => `${srcPath(path)}:${index + 1}: ${word}`),
        ),
    );

  it('no file in src/tsp names a status code, media type, header or web framework', () => {
    expect(httpLines()).toEqual([]);
  });

  it('spots what it forbids', () => {
    const words = (text: string) => [...text.matchAll(HTTP_WORDS)].map(([word]) => word);
    expect(words('outcome.httpStatus, HTTP 503, statusCode, grantedStatus')).toEqual([
      'http',
      'HTTP',
      'statusCode',
      'grantedStatus',
    ]);
    expect(words("contentType: JSON_TYPE; import 'fastify'; import 'node:http2'")).toEqual([
      'contentType:',
      'fastify',
      'http',
    ]);
    expect(words('DerRejectionStatus; Retry-After')).toEqual(['DerRejectionStatus', 'Retry-After']);
    // CMS's contentType attribute and an RFC's address are not HTTP.
    expect(words('oid(OID.contentType); https://www.rfc-editor.org/rfc/rfc3161')).toEqual([]);
  });
});

import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../../../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/**
 * The lines of `text` that make a bare Error or declare a class on Error itself: errors are a
 * module's CodedError with a code (src/errors.ts), so callers branch on `code`, never on text.
 */
function bareErrors(text: string): string[] {
  return text
    .split('\n')
    .map((line, index) => ({ line: line.trim(), number: index + 1 }))
    .filter(({ line }) => !line.startsWith('//') && !line.startsWith('*'))
    .filter(({ line }) => /\bnew Error\(|\bextends Error\b/.test(line))
    .map(({ line, number }) => `${number}: ${line}`);
}

describe('errors carry codes', () => {
  it('finds a bare Error and an Error subclass, not a coded one or a comment', () => {
    const sample = [
      "throw new Error('no');",
      "reject(new Error('no'));",
      'export class OwnError extends Error {}',
      "throw new SignerError('INVALID_KEY', 'no');",
      'export class SignerError extends CodedError<"INVALID_KEY"> {}',
      "// throw new Error('in a comment')",
      " * new Error('in a doc comment')",
    ].join('\n');
    expect(bareErrors(sample)).toEqual([
      "1: throw new Error('no');",
      "2: reject(new Error('no'));",
      '3: export class OwnError extends Error {}',
    ]);
  });

  it('no module of src/ makes a bare Error or extends Error but src/errors.ts', () => {
    const found = sourceFiles(SRC)
      .filter((path) => relative(SRC, path) !== 'errors.ts')
      .flatMap((path) =>
        bareErrors(readFileSync(path, 'utf8')).map((hit) => `${relative(SRC, path)}:${hit}`),
      );
    expect(found).toEqual([]);
  });
});

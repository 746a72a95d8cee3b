import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = resolve(import.meta.dirname, '..', '..', '..');
const SIBLING_SHARED = ['..', 'shared'].join('/');
const SHARED_SEGMENTS = /'\.\.',\s*(?:'\.\.',\s*)*'shared'/;

describe('a clone stands alone', () => {
  it('nothing under src/, test/, scripts/, bench/ or the Makefile reads the folder beside the clone', () => {
    const files = execFileSync(
      'git',
      [
        'ls-files',
        '--cached',
        '--others',
        '--exclude-standard',
        'src',
        'test',
        'scripts',
        'bench',
        'Makefile',
      ],
      { cwd: REPO, encoding: 'utf8' },
    )
      .split('\n')
      .filter(
        (file) =>
          file !== '' &&
          !file.startsWith('test/fixtures/') &&
          file !== 'test/unit/repository/repository-stands-alone.test.ts',
      );
    expect(files.length).toBeGreaterThan(100);
    const offenders = files.filter((file) => {
      const text = readFileSync(resolve(REPO, file), 'utf8');
      return text.includes(SIBLING_SHARED) || SHARED_SEGMENTS.test(text);
    });
    expect(offenders).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { cleanPath, mayNeedCleaning } from '../../../src/server/clean-path.js';

describe("Go's path.Clean, for routing", () => {
  // The rooted cases of Go's own table (src/path/path_test.go, cleantests).
  it.each([
    ['/', '/'],
    ['/abc', '/abc'],
    ['/abc/def/', '/abc/def'],
    ['//abc', '/abc'],
    ['///abc', '/abc'],
    ['//abc//', '/abc'],
    ['/./', '/'],
    ['/.', '/'],
    ['/abc/./def', '/abc/def'],
    ['/abc/def/..', '/abc'],
    ['/abc/def/../..', '/'],
    ['/abc/def/../../..', '/'],
    ['/abc/def/../../../ghi/jkl/../../../mno', '/mno'],
    ['/../abc', '/abc'],
    ['/..', '/'],
    ['/.well-known/x', '/.well-known/x'],
    ['/api/v1/timestamp/', '/api/v1/timestamp'],
  ])('%s -> %s', (path, clean) => {
    expect(cleanPath(path)).toBe(clean);
    expect(cleanPath(clean)).toBe(clean);
  });

  it('is never skipped where it would change the path (every path of up to 7 of "/", ".", "a")', () => {
    const alphabet = ['/', '.', 'a'];
    let paths = ['/'];
    for (let length = 1; length <= 7; length++) {
      for (const path of paths) {
        if (cleanPath(path) !== path) expect(mayNeedCleaning(path), path).toBe(true);
      }
      paths = paths.flatMap((path) => alphabet.map((character) => path + character));
    }
    expect(mayNeedCleaning('/api/v1/timestamp')).toBe(false);
    expect(mayNeedCleaning('/')).toBe(false);
  });
});

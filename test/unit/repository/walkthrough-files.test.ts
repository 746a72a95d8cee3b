import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = resolve(import.meta.dirname, '..', '..', '..');

/**
 * Every file the walkthroughs (README.md, docs/cli.md) write into the working directory, which is
 * the repository root when they are followed from a checkout.
 */
const WRITTEN = [
  'ts_chain.pem',
  'root.crt.pem',
  'chain.crts.pem',
  'myblob',
  'request.tsq',
  'response.tsr',
  'chain.pem',
  'leaf.pem',
  'intermediate.pem',
  'root.pem',
  'root.key',
  'intermediate.key',
  'leaf.key',
  'leaf.csr',
  'log.key',
  'token.tlog-proof',
  'last.txt',
];

/** Whether git ignores `path` (relative to the repository root). */
function ignored(path: string): boolean {
  try {
    execFileSync('git', ['check-ignore', '--no-index', '-q', path], { cwd: REPO });
    return true;
  } catch {
    return false;
  }
}

describe('the walkthroughs leave the working tree clean (gitTreeState stays "clean")', () => {
  it('every file they write at the repository root is ignored by git', () => {
    const docs = ['README.md', 'docs/cli.md']
      .map((file) => readFileSync(resolve(REPO, file), 'utf8'))
      .join('\n');
    for (const file of WRITTEN) expect(docs, `${file} is written by a walkthrough`).toContain(file);
    expect(WRITTEN.filter((file) => !ignored(file))).toEqual([]);
  });

  it('ignores them at the root only: fixtures of the same names stay tracked', () => {
    expect(ignored('test/fixtures/walkthrough/chain.pem')).toBe(false);
    expect(ignored('test/fixtures/walkthrough/myblob')).toBe(false);
  });
});

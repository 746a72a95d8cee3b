/**
 * The user's documentation: the README stays the short path in, and every relative link between
 * README.md, CONTRIBUTING.md, ARCHITECTURE.md and docs/*.md reaches a file and, with #anchor, a
 * heading of it (GitHub's anchors), so moving a section cannot leave a dangling link.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../helpers/spawn-server.js';

const DOCS = [
  'README.md',
  'CONTRIBUTING.md',
  'ARCHITECTURE.md',
  ...readdirSync(join(REPO_ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

/** The text outside fenced code blocks, with inline code spans blanked out. */
function prose(markdown: string): string {
  let fenced = false;
  return markdown
    .split('\n')
    .map((line) => {
      if (line.trimStart().startsWith('```')) fenced = !fenced;
      return fenced || line.trimStart().startsWith('```') ? '' : line.replace(/`[^`]*`/g, '``');
    })
    .join('\n');
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes, -1, -2 for repeats. */
export function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const found = new Set<string>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.trimStart().startsWith('```')) fenced = !fenced;
    const heading = fenced ? undefined : /^#{1,6} (.*)$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const slug = heading
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    found.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return found;
}

describe('documentation', () => {
  it('every relative link reaches an existing file and heading', () => {
    const broken: string[] = [];
    for (const file of DOCS) {
      const text = readFileSync(join(REPO_ROOT, file), 'utf8');
      for (const [, target = ''] of prose(text).matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/i.test(target)) continue; // https:, mailto:
        const [path = '', anchor] = target.split('#');
        const resolved = path ? join(REPO_ROOT, dirname(file), path) : join(REPO_ROOT, file);
        if (!existsSync(resolved)) {
          broken.push(`${file}: ${target} (no ${relative(REPO_ROOT, resolved)})`);
        } else if (anchor && !anchors(readFileSync(resolved, 'utf8')).has(anchor)) {
          broken.push(`${file}: ${target} (no such heading)`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it('finds the headings GitHub would link to', () => {
    expect([...anchors('# A\n## HTTPS, HTTP/2 and mutual TLS\n```\n# not\n```\n## A\n')]).toEqual([
      'a',
      'https-http2-and-mutual-tls',
      'a-1',
    ]);
    expect(anchors('### Tink key-encryption keys (`--tink-key-resource`)')).toContain(
      'tink-key-encryption-keys---tink-key-resource',
    );
  });

  it('keeps the README to the user path (the reference is in docs/)', () => {
    const lines = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8').split('\n').length;
    expect(lines).toBeLessThanOrEqual(300);
  });
});

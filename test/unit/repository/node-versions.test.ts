import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDockerfile } from '../../helpers/dockerfile.js';
import { REPO_ROOT } from '../../helpers/spawn-server.js';

/**
 * Node release lines still supported in December 2026, with their end of life
 * (https://nodejs.org/en/about/previous-releases). Node 20 ended in April 2026.
 */
const SUPPORTED_LTS: Record<number, string> = { 22: '2027-04-30', 24: '2028-04-30' };

type Version = [number, number, number];
const parseVersion = (text: string): Version => {
  const [major = 0, minor = 0, patch = 0] = text.replace(/^v/, '').split('.').map(Number);
  return [major, minor, patch];
};
const compare = (a: Version, b: Version) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

/** One comparator of an npm range (>=20.19, ^20.9.0, 20, 10.*, *), as npm's semver reads it. */
function comparatorHolds(version: Version, comparator: string): boolean {
  const match = /^(>=|<=|>|<|=|\^|~)?v?(\d+|[x*])?(?:\.(\d+|[x*]))?(?:\.(\d+|[x*]))?$/.exec(
    comparator,
  );
  if (!match) throw new Error(`unsupported range comparator ${comparator}`);
  const [, operator = '=', ...parts] = match;
  const given = parts.filter((part) => part !== undefined && !/[x*]/.test(part)).map(Number);
  if (given.length === 0) return true;
  const bound = parseVersion(given.join('.'));
  const order = compare(version, bound);
  const samePrefix = given.every((part, index) => version[index] === part);
  switch (operator) {
    case '>=':
      return order >= 0;
    case '>':
      return order > 0 && !samePrefix;
    case '<':
      return order < 0;
    case '<=':
      return order <= 0 || samePrefix;
    case '^':
      return order >= 0 && version[0] === bound[0];
    case '~':
      return order >= 0 && version[0] === bound[0] && (given.length < 2 || version[1] === bound[1]);
    default:
      return samePrefix;
  }
}

function satisfies(version: string, range: string): boolean {
  return range.split('||').some((alternative) =>
    alternative
      .trim()
      .replace(/([<>=^~]+)\s+/g, '$1')
      .split(/\s+/)
      .filter(Boolean)
      .every((comparator) => comparatorHolds(parseVersion(version), comparator)),
  );
}

const packageJson = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  engines: { node: string };
};
const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { engines?: { node?: string }; dependencies?: Record<string, string> }>;
};
const engines = packageJson.engines.node;
const minimum = /^>=\s*(\d+\.\d+(?:\.\d+)?)$/.exec(engines)?.[1] ?? '';

const filesUnder = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });

describe('Node versions', () => {
  it('the range reader reads npm ranges as npm does', () => {
    expect(satisfies('20.19.0', '>=20.19')).toBe(true);
    expect(satisfies('20.18.9', '>= 20.19.0')).toBe(false);
    expect(satisfies('20.19.0', '^20.19.0 || >=22.12.0')).toBe(true);
    expect(satisfies('21.0.0', '^20.19.0 || >=22.12.0')).toBe(false);
    expect(satisfies('20.19.0', '>=22')).toBe(false);
    expect(satisfies('20.1.0', '18 || 20 || >=22')).toBe(true);
    expect(satisfies('12.4.0', '10.* || >= 12.*')).toBe(true);
    expect(satisfies('14.17.0', '>=16 || 14 >=14.17')).toBe(true);
    expect(satisfies('14.16.0', '>=16 || 14 >=14.17')).toBe(false);
    expect(satisfies('20.0.0', '*')).toBe(true);
  });

  it('every image stage runs a supported Node LTS, by a versioned tag', () => {
    const stages = parseDockerfile(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'));
    const names = new Set(stages.map((stage) => stage.name));
    const bases = stages.map((stage) => stage.base).filter((base) => !names.has(base));
    expect(bases.length).toBeGreaterThan(0);
    for (const base of bases) {
      const major = Number(/^node:(\d+)-bookworm-slim$/.exec(base)?.[1]);
      expect(SUPPORTED_LTS[major], base).toBeDefined();
      expect(satisfies(`${major}.0.0`, engines), `engines ${engines} and ${base}`).toBe(true);
    }
  });

  it('engines names a minimum that the Node running this suite meets', () => {
    expect(minimum).not.toBe('');
    expect(satisfies(process.versions.node, engines)).toBe(true);
  });

  it('every locked package accepts that minimum, but cookie, which the server never loads', () => {
    const refusing = Object.entries(lock.packages)
      .filter(([path, entry]) => path && entry.engines?.node)
      .filter(([, entry]) => !satisfies(minimum, entry.engines?.node ?? '*'))
      .map(([path]) => path);
    expect(refusing).toEqual(['node_modules/cookie']);
    // cookie (node >= 22) comes only through light-my-request, which fastify loads for inject()
    // alone; the server never calls inject() (the tests do, and pass on the minimum).
    const dependents = Object.entries(lock.packages)
      .filter(([, entry]) => entry.dependencies?.['cookie'])
      .map(([path]) => path);
    expect(dependents).toEqual(['node_modules/light-my-request']);
    const injecting = filesUnder(join(REPO_ROOT, 'src')).filter((file) =>
      /\.inject\(|light-my-request/.test(readFileSync(file, 'utf8')),
    );
    expect(injecting).toEqual([]);
  });
});

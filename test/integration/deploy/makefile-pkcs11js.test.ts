import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../helpers/openssl.js';
import { REPO_ROOT } from '../../helpers/spawn-server.js';

/**
 * `make pkcs11js` (a prerequisite of `make test`) in a copy of the Makefile, with a fake
 * install-test-deps.sh and a fake `npm` that records its argv and, like a successful build,
 * leaves the binding behind. npm drops an optional package whose build fails, so after a
 * `make run` without a C++ toolchain node_modules has no pkcs11js at all.
 */
const work = tempDir();
afterAll(() => work.cleanup());

const BINDING = 'node_modules/pkcs11js/build/Release/pkcs11.node';
const BINDING_DIR = BINDING.slice(0, BINDING.lastIndexOf('/'));
const MAKE = spawnSync('bash', ['-c', 'command -v make'], { encoding: 'utf8' }).stdout.trim();

let runs = 0;
function project(state: 'built' | 'unbuilt' | 'dropped', npmBuilds = true) {
  const dir = work.path(`project-${++runs}`);
  mkdirSync(join(dir, 'scripts'), { recursive: true });
  mkdirSync(join(dir, 'bin'));
  copyFileSync(join(REPO_ROOT, 'Makefile'), join(dir, 'Makefile'));
  writeFileSync(join(dir, 'package.json'), '{}');
  writeFileSync(join(dir, 'package-lock.json'), '{}');
  writeFileSync(join(dir, 'scripts/install-test-deps.sh'), 'echo "test-deps ran" >> calls.log\n');
  if (state !== 'dropped') mkdirSync(join(dir, 'node_modules/pkcs11js'), { recursive: true });
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  if (state === 'built') {
    mkdirSync(join(dir, BINDING_DIR), { recursive: true });
    writeFileSync(join(dir, BINDING), '');
  }
  // node_modules newer than the manifests: the node_modules target is up to date.
  const old = new Date(Date.now() - 3600_000);
  utimesSync(join(dir, 'package.json'), old, old);
  utimesSync(join(dir, 'package-lock.json'), old, old);
  const build = npmBuilds
    ? `mkdir -p ${BINDING_DIR} && touch ${BINDING}`
    : 'rm -rf node_modules/pkcs11js';
  writeFileSync(join(dir, 'bin/npm'), `#!/bin/bash\necho "npm $*" >> calls.log\n${build}\n`, {
    mode: 0o755,
  });
  return dir;
}

function make(dir: string, args: string[]) {
  const result = spawnSync(MAKE, ['--no-print-directory', '-C', dir, ...args], {
    env: { PATH: `${join(dir, 'bin')}:${process.env.PATH ?? ''}`, HOME: work.dir },
    encoding: 'utf8',
  });
  const log = join(dir, 'calls.log');
  const calls = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [];
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, calls };
}

describe('make pkcs11js', () => {
  it('does nothing but the test deps where the binding is built', () => {
    const dir = project('built');
    const { status, calls } = make(dir, ['pkcs11js']);
    expect(status).toBe(0);
    expect(calls).toEqual(['test-deps ran']);
  });

  it('rebuilds pkcs11js after the test deps where npm kept it unbuilt', () => {
    const dir = project('unbuilt');
    const { status, calls, stderr } = make(dir, ['pkcs11js']);
    expect(status).toBe(0);
    expect(calls).toEqual(['test-deps ran', 'npm rebuild pkcs11js']);
    expect(existsSync(join(dir, BINDING))).toBe(true);
    expect(stderr).toBe('');
  });

  it('installs it again from the lock where npm dropped it (no toolchain at the first install)', () => {
    const dir = project('dropped');
    const { status, calls } = make(dir, ['pkcs11js']);
    expect(status).toBe(0);
    expect(calls).toEqual(['test-deps ran', 'npm install --no-save --no-audit --no-fund']);
    expect(existsSync(join(dir, BINDING))).toBe(true);
  });

  it('says so where the build still leaves no binding', () => {
    const dir = project('dropped', false);
    const { status, stderr } = make(dir, ['pkcs11js']);
    expect(status).toBe(0);
    expect(stderr).toContain('pkcs11js is still not built');
  });

  it('runs in make test and make test-slow after the test deps, before the tests', () => {
    for (const target of ['test', 'test-slow']) {
      const dir = project('dropped');
      const { status, stdout } = make(dir, ['-n', target]);
      expect(status).toBe(0);
      const lines = stdout.split('\n');
      const at = (text: string) => lines.findIndex((line) => line.includes(text));
      expect(at('install-test-deps.sh')).toBeGreaterThanOrEqual(0);
      expect(at('pkcs11.node')).toBeGreaterThan(at('install-test-deps.sh'));
      expect(at('scripts/run-tests.sh')).toBeGreaterThan(at('pkcs11.node'));
    }
  });
});

import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../helpers/openssl.js';
import { REPO_ROOT } from '../../helpers/spawn-server.js';

/**
 * `make up` with fake `docker` and `docker-compose` executables, alone on PATH, that record their
 * argv: the Compose v2 plugin where Docker has it, else the v1 binary, else a clear error.
 */
const work = tempDir();
afterAll(() => work.cleanup());

const which = (program: string) =>
  spawnSync('bash', ['-c', `command -v ${program}`], { encoding: 'utf8' }).stdout.trim();
const MAKE = which('make');

type Fake = 'docker with compose plugin' | 'docker without compose plugin' | 'docker-compose';

const FAKES: Record<Fake, [string, string]> = {
  'docker with compose plugin': ['docker', 'exit 0'],
  'docker without compose plugin': [
    'docker',
    `if [ "$1" = compose ]; then echo "docker: 'compose' is not a docker command." >&2; exit 1; fi`,
  ],
  'docker-compose': ['docker-compose', 'exit 0'],
};

let runs = 0;
function makeUp(fakes: Fake[]) {
  const bin = work.path(`bin-${++runs}`);
  const log = work.path(`calls-${runs}.log`);
  mkdirSync(bin);
  // Only what the recipe needs besides the fakes.
  symlinkSync(which('date'), join(bin, 'date'));
  for (const fake of fakes) {
    const [name, behaviour] = FAKES[fake];
    writeFileSync(
      join(bin, name),
      `#!/bin/bash\nprintf '%s GIT_VERSION=%s GIT_TREE_STATE=%s\\n' "${name} $*" "$GIT_VERSION" "$GIT_TREE_STATE" >> '${log}'\n${behaviour}\n`,
      { mode: 0o755 },
    );
  }
  const result = spawnSync(
    MAKE,
    [
      '--no-print-directory',
      '-C',
      REPO_ROOT,
      'up',
      'GIT_VERSION=v9.8.7',
      'GIT_COMMIT=abc123',
      'GIT_TREE_STATE=dirty',
    ],
    { env: { PATH: bin, HOME: work.dir }, encoding: 'utf8' },
  );
  const calls = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [];
  return { status: result.status, stderr: result.stderr, calls };
}

describe('make up', () => {
  it('runs `docker compose up --build` where Docker has the Compose plugin, with the build version', () => {
    const { status, calls } = makeUp(['docker with compose plugin', 'docker-compose']);
    expect(status).toBe(0);
    expect(calls.at(-1)).toBe('docker compose up --build GIT_VERSION=v9.8.7 GIT_TREE_STATE=dirty');
    expect(calls.some((call) => call.startsWith('docker-compose'))).toBe(false);
  });

  it('falls back to docker-compose (v1) where Docker lacks the plugin', () => {
    const { status, calls } = makeUp(['docker without compose plugin', 'docker-compose']);
    expect(status).toBe(0);
    expect(calls.at(-1)).toBe('docker-compose up --build GIT_VERSION=v9.8.7 GIT_TREE_STATE=dirty');
    expect(calls.filter((call) => call.includes(' up '))).toHaveLength(1);
  });

  it('uses docker-compose where there is no docker command at all', () => {
    const { status, calls } = makeUp(['docker-compose']);
    expect(status).toBe(0);
    expect(calls).toEqual(['docker-compose up --build GIT_VERSION=v9.8.7 GIT_TREE_STATE=dirty']);
  });

  it('fails with a message naming both where neither is installed', () => {
    for (const fakes of [[], ['docker without compose plugin']] as Fake[][]) {
      const { status, stderr, calls } = makeUp(fakes);
      expect(status).not.toBe(0);
      expect(stderr).toContain('`docker compose` (the v2 plugin)');
      expect(stderr).toContain('`docker-compose` (v1)');
      expect(calls.filter((call) => call.includes(' up '))).toEqual([]);
    }
  });
});

describe('README and docs', () => {
  it('name only make targets that the Makefile has', () => {
    const targets = new Set(
      [...readFileSync(join(REPO_ROOT, 'Makefile'), 'utf8').matchAll(/^([\w/-]+):(?!=)/gm)].map(
        (match) => match[1],
      ),
    );
    // `make X` in code spans and at the start of lines of code blocks.
    const namedIn = (file: string) =>
      [...readFileSync(join(REPO_ROOT, file), 'utf8').matchAll(/(?:`|^)make ([a-z][\w-]*)/gm)].map(
        (match) => `${file}: make ${match[1]}`,
      );
    const docs = readdirSync(join(REPO_ROOT, 'docs'))
      .filter((name) => name.endsWith('.md'))
      .map((name) => `docs/${name}`);
    const files = ['README.md', 'CONTRIBUTING.md', 'ARCHITECTURE.md', ...docs];
    const named = files.flatMap(namedIn);
    expect(named).toEqual(
      expect.arrayContaining(['README.md: make run', 'README.md: make test', 'README.md: make up']),
    );
    expect(named.filter((entry) => !targets.has(entry.split(': make ')[1] ?? ''))).toEqual([]);
  });
});

describe('make help', () => {
  it('lists every target the Makefile describes (## after its name), digits in names too', () => {
    const described = readFileSync(join(REPO_ROOT, 'Makefile'), 'utf8')
      .split('\n')
      .flatMap((line) => /^([^\s:#=]+):.*?## /.exec(line)?.[1] ?? []);
    expect(described).toContain('pkcs11js');
    const help = spawnSync(MAKE, ['--no-print-directory', '-C', REPO_ROOT, 'help'], {
      encoding: 'utf8',
    });
    expect(help.status).toBe(0);
    const listed = help.stdout
      .trim()
      .split('\n')
      .map((line) => line.trim().split(/\s+/)[0]);
    expect(listed.sort()).toEqual([...described].sort());
  });
});

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../helpers/openssl.js';
import { postgresBin } from '../../helpers/postgres.js';
import { childEnvironment } from '../../helpers/process.js';
import { REPO_ROOT } from '../../helpers/spawn-server.js';

/**
 * The PostgreSQL server's folder is versioned by release (Debian 12: 15, Ubuntu 24.04: 16): the
 * test helper and scripts/install-test-deps.sh take whichever /usr/lib/postgresql/N/bin has initdb.
 */
const work = tempDir();
afterAll(() => work.cleanup());

let roots = 0;
function postgresRoot(versions: { name: string; initdb: boolean }[]) {
  const root = work.path(`postgresql-${++roots}`);
  mkdirSync(root);
  for (const { name, initdb } of versions) {
    mkdirSync(join(root, name, 'bin'), { recursive: true });
    if (initdb) writeFileSync(join(root, name, 'bin', 'initdb'), '');
  }
  return root;
}

describe('postgresBin', () => {
  it('takes the newest version with an initdb, by number', () => {
    const root = postgresRoot([
      { name: '9.6', initdb: true },
      { name: '14', initdb: true },
      { name: '16', initdb: true },
      { name: '17', initdb: false },
      { name: 'common', initdb: true },
    ]);
    expect(postgresBin(root)).toBe(join(root, '16', 'bin'));
  });

  it('names the fix where there is none', () => {
    const root = postgresRoot([{ name: '15', initdb: false }]);
    expect(() => postgresBin(root)).toThrow(/no PostgreSQL server .*make test-deps/);
    expect(() => postgresBin(work.path('absent'))).toThrow(/no PostgreSQL server/);
  });
});

/** The script, reading `root` for /usr/lib/postgresql, with an apt-get (and sudo) that only log. */
function installTestDeps(root: string) {
  const dir = work.path(`script-${++roots}`);
  mkdirSync(join(dir, 'bin'), { recursive: true });
  const script = readFileSync(join(REPO_ROOT, 'scripts/install-test-deps.sh'), 'utf8');
  expect(script).toContain('/usr/lib/postgresql/');
  writeFileSync(join(dir, 'script.sh'), script.replaceAll('/usr/lib/postgresql/', `${root}/`));
  const log = join(dir, 'apt.log');
  for (const fake of ['apt-get', 'sudo']) {
    writeFileSync(join(dir, 'bin', fake), `#!/bin/bash\necho "${fake} $*" >> '${log}'\n`, {
      mode: 0o755,
    });
  }
  const result = spawnSync('bash', [join(dir, 'script.sh')], {
    env: childEnvironment({ PATH: `${join(dir, 'bin')}:${process.env.PATH ?? ''}` }),
    encoding: 'utf8',
  });
  const installs = existsSync(log)
    ? readFileSync(log, 'utf8')
        .split('\n')
        .filter((line) => line.includes(' install '))
    : [];
  return { status: result.status, stderr: result.stderr, installs };
}

describe('scripts/install-test-deps.sh', () => {
  it('takes any installed version as PostgreSQL being there', () => {
    const { status, installs } = installTestDeps(
      postgresRoot([
        { name: '14', initdb: true },
        { name: '16', initdb: true },
      ]),
    );
    expect(installs.filter((line) => / postgresql( |$)/.test(line))).toEqual([]);
    expect(status).toBe(0);
  });

  it('installs postgresql where no version is, and fails clearly where that gave no initdb', () => {
    const { status, stderr, installs } = installTestDeps(postgresRoot([]));
    expect(installs.filter((line) => / postgresql( |$)/.test(line))).toHaveLength(1);
    expect(status).not.toBe(0);
    expect(stderr).toContain('no PostgreSQL server');
  });
});

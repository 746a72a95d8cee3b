import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The unit tier runs in process (CONTRIBUTING.md): no listener and no helper process, so that
 * `npx vitest run test/unit` is quick and cannot fail for a port or a slow process. Short-lived
 * tools run as oracles (openssl through test/helpers/openssl.ts, git on the checkout) are allowed.
 * A test that needs more belongs in test/integration or test/e2e.
 */
const UNIT = resolve(import.meta.dirname, '..');

/** What starts a listener or a helper process: node's own calls and the test helpers that do. */
const STARTS_SOMETHING = [
  /\bcreateServer\(/,
  /\.listen\(/,
  /(?<!\.)\b(spawn|spawnSync|fork|exec|execSync)\(/,
  // execFile and execFileSync for git only (the repository tests read the checkout with it).
  /\bexecFile(Sync)?\((?!\s*'git')/,
  /\b(runCli|spawnServer|startProcess|startPostgres|startLogServer|startNtpServer)\b/,
  /\b(startChronyClient|startKekServices|startFake[A-Za-z]+|createRemoteTsa|createFlagServer)\b/,
  /\b(SntpResponder|SoftHsm|spawnHeldAtImport)\b/,
];

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return testFiles(path);
    return entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('the unit tier', () => {
  it('starts no listener and no helper process', () => {
    const offenders = testFiles(UNIT)
      .filter((path) => path !== import.meta.filename)
      .flatMap((path) => {
        const source = readFileSync(path, 'utf8');
        const found = STARTS_SOMETHING.find((pattern) => pattern.test(source));
        return found ? [`${relative(UNIT, path)} (${found.source})`] : [];
      });
    expect(offenders).toEqual([]);
  });

  it('would name a file that does', () => {
    expect(STARTS_SOMETHING.some((pattern) => pattern.test('server.listen(0)'))).toBe(true);
    expect(STARTS_SOMETHING.some((pattern) => pattern.test('await startFakeVault()'))).toBe(true);
    expect(STARTS_SOMETHING.some((pattern) => pattern.test('/^a (.*)$/.exec(line)'))).toBe(false);
    const nodeChild = "execFileSync(process.execPath, ['-e', ''])";
    expect(STARTS_SOMETHING.some((pattern) => pattern.test(nodeChild))).toBe(true);
    const git = "execFileSync(\n  'git', ['ls-files'])";
    expect(STARTS_SOMETHING.some((pattern) => pattern.test(git))).toBe(false);
  });
});

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT, requireBuild, SERVER_BIN } from '../../helpers/process.js';

const CLI_BIN = `${REPO_ROOT}bin/timestamp-cli`;
const run = promisify(execFile);
const elsewhere = mkdtempSync(join(tmpdir(), 'tsa-bin-'));
afterAll(() => rmSync(elsewhere, { recursive: true, force: true }));

/** `bin/timestamp-server serve --print-config` with exactly this environment (no shell between). */
async function printConfig(env: NodeJS.ProcessEnv, bin = SERVER_BIN) {
  requireBuild(bin);
  const { stdout } = await run(bin, ['serve', '--print-config'], {
    env: { PATH: process.env['PATH'], HOME: elsewhere, ...env },
  });
  return parse(stdout) as Record<string, unknown>;
}

/**
 * The built executables are Node entry points, not /bin/sh wrappers: dash drops variables whose
 * names are not shell identifiers (TIMESTAMP-SIGNER), and docs/configuration.md documents them.
 */
describe('bin/timestamp-server reads every documented environment spelling', () => {
  it('is not a shell script', () => {
    requireBuild();
    expect(readFileSync(SERVER_BIN, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
  });

  it("the Go server's dashed names (TIMESTAMP-SIGNER)", async () => {
    expect(
      await printConfig({
        'TIMESTAMP-SIGNER': 'file',
        'MAX-REQUEST-BODY-SIZE': '2048',
        'INCLUDE-CHAIN-IN-RESPONSE': 'true',
        'LOG-LEVEL': 'warn',
      }),
    ).toMatchObject({
      'timestamp-signer': 'file',
      'max-request-body-size': 2048,
      'include-chain-in-response': true,
      'log-level': 'warn',
    });
  });

  it('upper case with underscores, HOST and PORT, and go-swagger TLS names', async () => {
    expect(
      await printConfig({
        TIMESTAMP_SIGNER: 'kms',
        MAX_REQUEST_BODY_SIZE: '4096',
        HOST: '0.0.0.0',
        PORT: '4000',
        TLS_CERTIFICATE: '/tls/cert.pem',
        TLS_PRIVATE_KEY: '/tls/key.pem',
        TLS_CA_CERTIFICATE: '/tls/ca.pem',
      }),
    ).toMatchObject({
      'timestamp-signer': 'kms',
      'max-request-body-size': 4096,
      host: '0.0.0.0',
      port: 4000,
      'tls-certificate': '/tls/cert.pem',
      'tls-key': '/tls/key.pem',
      'tls-ca': '/tls/ca.pem',
    });
  });

  it('also when linked from elsewhere (e.g. /usr/local/bin), and bin/timestamp-cli runs', async () => {
    const link = join(elsewhere, 'timestamp-server');
    symlinkSync(SERVER_BIN, link);
    expect(await printConfig({ 'TIMESTAMP-SIGNER': 'tink' }, link)).toMatchObject({
      'timestamp-signer': 'tink',
    });
    requireBuild(CLI_BIN);
    const { stdout } = await run(CLI_BIN, ['version', '--json']);
    expect(JSON.parse(stdout)).toHaveProperty('gitVersion');
  });
});

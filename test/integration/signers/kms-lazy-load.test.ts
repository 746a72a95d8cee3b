import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../helpers/openssl.js';
import { childEnvironment } from '../../helpers/process.js';

const run = promisify(execFile);
const dir = tempDir();
afterAll(() => dir.cleanup());

const SDKS =
  /node_modules\/(@aws-sdk\/client-kms|@google-cloud\/kms|google-gax|@azure\/keyvault-keys|@azure\/identity|@grpc\/grpc-js|pkcs11js)\//;

describe('cloud SDKs and the PKCS#11 binding are loaded lazily', () => {
  it('starting with the memory signer loads none of them (and the probe does see an SDK import)', async () => {
    const log = dir.path('imports.log');
    const script = `
      import { appendFileSync } from 'node:fs';
      const { resolveServeConfig } = await import('./src/config/resolve.ts');
      const { createAuthority } = await import('./src/runtime/serve.ts');
      const pino = (await import('pino')).default;
      await createAuthority(resolveServeConfig({}), pino({ level: 'silent' }));
      appendFileSync(process.env.IMPORT_LOG, 'MARKER\\n');
      await import('@aws-sdk/client-kms');
    `;
    await run(
      process.execPath,
      [
        '--import',
        'tsx',
        '--import',
        './test/helpers/record-imports.mjs',
        '--input-type=module',
        '-e',
        script,
      ],
      // No NODE_OPTIONS (a --require would load modules of its own) nor SDK variables of the shell.
      { env: childEnvironment({ IMPORT_LOG: log }) },
    );
    const [before = '', after = ''] = readFileSync(log, 'utf8').split('MARKER\n');
    expect(before).toContain('/src/signers/create-signer.ts');
    expect(before).not.toMatch(SDKS);
    expect(after).toMatch(SDKS);
  });
});

import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadServeConfig } from '../../../src/config/load.js';
import { readSecret } from '../../../src/config/read-secret.js';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import type { ServeOptionName } from '../../../src/config/schema.js';
import { signerConfigFrom } from '../../../src/config/signer-config.js';
import { createSigner } from '../../../src/signers/create-signer.js';
import { tempDir } from '../../helpers/openssl.js';
import { OpensslPki } from '../../helpers/openssl-pki.js';

/**
 * The files a signer starts from (key, chain, a `--…-file` secret) must be regular files: a FIFO
 * with no writer held the start-up, and even its exit on SIGTERM, on a thread of libuv's pool.
 */
const signerConfig = (flags: Partial<Record<ServeOptionName, unknown>>) =>
  signerConfigFrom(resolveServeConfig(flags));
const work = tempDir();
const pki = new OpensslPki(work.dir);

beforeAll(async () => {
  await pki.standardChain();
});
afterAll(() => work.cleanup());

describe('files a signer starts from', () => {
  it('refuses a FIFO, a device or a folder as a secret file, a key file or a chain, never waiting for a writer', async () => {
    const fifo = work.path('secret.fifo');
    execFileSync('mkfifo', [fifo]);
    const notRegular = 'not a regular file (a FIFO, a device or a folder)';
    for (const path of [fifo, '/dev/zero', work.dir]) {
      await expect(readSecret('', path, 'file-signer-passwd')).rejects.toThrow(
        `reading --file-signer-passwd-file (the file it names): ${notRegular}`,
      );
      await expect(
        createSigner(signerConfig({ timestampSigner: 'file', fileSignerKeyPath: path })),
      ).rejects.toThrow(`file: reading key path ${path}: ${notRegular}`);
      await expect(
        createSigner(
          signerConfig({
            timestampSigner: 'file',
            fileSignerKeyPath: pki.path('leaf.key'),
            certificateChainPath: path,
          }),
        ),
      ).rejects.toThrow(`reading certificate chain ${path}: ${notRegular}`);
    }
  });

  it('refuses a FIFO, a device or a folder as the config file, read before anything starts', () => {
    // Read synchronously: a FIFO blocked the event loop, and with it the SIGTERM handler.
    const fifo = work.path('config.fifo');
    execFileSync('mkfifo', [fifo]);
    // /dev/null is taken, as no file: `--config /dev/null` says "none, and do not search".
    expect(
      loadServeConfig({ flags: {}, configPath: '/dev/null', env: {}, searchDirs: [] }).config.port,
    ).toBe(3000);
    for (const path of [fifo, '/dev/zero']) {
      expect(() =>
        loadServeConfig({ flags: {}, configPath: path, env: {}, searchDirs: [] }),
      ).toThrow(
        `config file ${path}: cannot read: not a regular file (a FIFO, a device or a folder)`,
      );
    }
  });
});

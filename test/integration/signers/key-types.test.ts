import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../helpers/openssl.js';
import { OpensslPki, type KeyAlgorithm } from '../../helpers/openssl-pki.js';
import { timestampAndVerify } from '../../helpers/timestamp-roundtrip.js';
import { createTestServer } from '../../helpers/tsa.js';

const work = tempDir();
const pki = new OpensslPki(work.dir);
afterAll(() => work.cleanup());

const CASES: [KeyAlgorithm, 'sha256' | 'sha384' | 'sha512'][] = [
  ['RSA-2048', 'sha256'],
  ['RSA-3072', 'sha384'],
  ['RSA-4096', 'sha512'],
  ['P-256', 'sha256'],
  ['P-384', 'sha384'],
  ['P-521', 'sha512'],
  ['Ed25519', 'sha512'],
];

describe('file signer: tokens from every key type verify with openssl', () => {
  it.each(CASES)('%s with %s', async (algorithm, hash) => {
    const prefix = `${algorithm}-`;
    const chain = await pki.standardChain(prefix, algorithm);
    const { app, signer } = await createTestServer({
      timestampSigner: 'file',
      fileSignerKeyPath: pki.path(`${prefix}leaf.key`),
      certificateChainPath: chain,
      timestampSignerHash: hash,
      includeChainInResponse: true,
    });
    expect(signer.algorithm.hash).toBe(hash);
    expect(await timestampAndVerify(app, chain)).toMatch(/Verification: OK/);
    await app.close();
  });
});

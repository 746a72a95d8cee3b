import { createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { createTinkSigner } from '../../../src/signers/tink/tink-signer.js';
import { openKek } from '../../../src/signers/tink/open-kek.js';
import { parseKeyset, TYPE_URL } from '../../../src/signers/tink/keyset.js';
import { fakeKms, openKekWithFakeKms } from '../../helpers/fake-kms.js';
import { tempDir } from '../../helpers/openssl.js';
import { EXT, OpensslPki } from '../../helpers/openssl-pki.js';
import { bytesField, encodeKeyset, uintField } from '../../helpers/protobuf-encode.js';
import { timestampAndVerify } from '../../helpers/timestamp-roundtrip.js';
import { createTestServer } from '../../helpers/tsa.js';

/** Vectors made by genuine Tink (test/fixtures/tink/README.md says which versions and how). */
const FIXTURES = resolve(import.meta.dirname, '..', '..', 'fixtures', 'tink');

interface VectorKey {
  keyId: number;
  status: string;
  outputPrefixType: string;
  typeUrl: string;
  hash?: string;
  signatureEncoding?: string;
  publicKeySpkiDerHex: string;
  publicKeySpkiPem: string;
  tinkSignatureHex?: string;
}
interface Vector {
  name: string;
  file: string;
  format: 'json' | 'binary';
  kekUri: string;
  associatedDataHex: string;
  primaryKeyId: number;
  keys: VectorKey[];
  signedMessageUtf8: string;
}

const SETS = ['generated/tink-java-1.18.0', 'generated/tink-go-2.0.0'];
const vectors = SETS.flatMap((set) =>
  (JSON.parse(readFileSync(resolve(FIXTURES, set, 'vectors.json'), 'utf8')) as Vector[]).map(
    (vector) => ({
      ...vector,
      path: resolve(FIXTURES, set, vector.file),
      set,
    }),
  ),
);
const [KEK_A, KEK_B] = (
  JSON.parse(readFileSync(resolve(FIXTURES, 'generated/tink-go-2.0.0/keks.json'), 'utf8')) as {
    uri: string;
    aesKeyHex: string;
  }[]
).map((kek) => kek);
const primaryOf = (vector: Vector) =>
  vector.keys.find((key) => key.keyId === vector.primaryKeyId) as VectorKey;
const hashFor = (key: VectorKey) =>
  key.typeUrl === TYPE_URL.ed25519PrivateKey ? 'sha512' : 'sha256';
const supported = vectors.filter((vector) => vector.associatedDataHex === '');

const work = tempDir();
const pki = new OpensslPki(work.dir);

function load(path: string, kekUri: string, hash: 'sha256' | 'sha384' | 'sha512' = 'sha256') {
  return createTinkSigner({
    keysetPath: path,
    kekUri,
    vaultToken: '',
    hash,
    openKek: openKekWithFakeKms,
  });
}

/** An EncryptedKeyset JSON file around `ciphertext`. */
function writeEncrypted(name: string, ciphertext: Uint8Array): string {
  return work.write(
    name,
    JSON.stringify({ encryptedKeyset: Buffer.from(ciphertext).toString('base64') }),
  );
}

beforeAll(async () => {
  await pki.key('root');
  await pki.cert('root', { subject: '/O=test/CN=Tink Test Root', ext: EXT.root, days: 3650 });
  await pki.key('intermediate');
  await pki.cert('intermediate', {
    subject: '/O=test/CN=Tink Test Intermediate',
    ext: EXT.intermediate,
    issuer: 'root',
  });
});
afterAll(() => work.cleanup());

describe('Tink fixtures and the fake-kms test KEK', () => {
  it('finds the vectors in test/fixtures/tink', () => {
    expect(vectors.length).toBe(25);
  });

  it('the fake-kms helper decodes both KEKs to the AES keys keks.json states', () => {
    const keks = JSON.parse(
      readFileSync(resolve(FIXTURES, 'generated/tink-go-2.0.0/keks.json'), 'utf8'),
    ) as {
      uri: string;
      aesKeyHex: string;
    }[];
    for (const kek of keks) expect(fakeKms(kek.uri).aesKey.toString('hex')).toBe(kek.aesKeyHex);
  });
});

describe('Tink keyset reader: every supported vector gives exactly the expected public key', () => {
  it.each(
    supported.map((vector) => [`${vector.set.split('/')[1]} ${vector.name}`, vector] as const),
  )('%s', async (_name, vector) => {
    const primary = primaryOf(vector);
    const signer = await load(vector.path, vector.kekUri, hashFor(primary));
    expect(signer.publicKey.export({ type: 'spki', format: 'der' }).toString('hex')).toBe(
      primary.publicKeySpkiDerHex,
    );
    // Tink's own signature over the vector message verifies with the key we loaded.
    const signature = Buffer.from(primary.tinkSignatureHex ?? '', 'hex').subarray(
      primary.outputPrefixType === 'RAW' ? 0 : 5,
    );
    const message = Buffer.from(vector.signedMessageUtf8, 'utf8');
    const ed25519 = primary.typeUrl === TYPE_URL.ed25519PrivateKey;
    const digest = ed25519 ? null : (primary.hash ?? 'SHA256').toLowerCase();
    const dsaEncoding = primary.signatureEncoding === 'IEEE_P1363' ? 'ieee-p1363' : 'der';
    expect(verify(digest, message, { key: signer.publicKey, dsaEncoding }, signature)).toBe(true);
  });
});

describe('Tink signer: tokens from every supported vector verify with openssl ts -verify', () => {
  it.each(
    supported.map((vector) => [`${vector.set.split('/')[1]} ${vector.name}`, vector] as const),
  )('%s', async (_name, vector) => {
    const primary = primaryOf(vector);
    const leaf = `leaf-${vector.name}-${vector.set.length}`;
    await pki.cert(leaf, {
      subject: `/O=test/CN=${vector.name}`,
      ext: EXT.leaf,
      issuer: 'intermediate',
      publicKeyPem: primary.publicKeySpkiPem,
      csrKey: 'intermediate',
    });
    const chain = pki.chain(`${leaf}-chain.pem`, leaf, 'intermediate', 'root');
    const { app } = await createTestServer(
      {
        timestampSigner: 'tink',
        tinkKeysetPath: vector.path,
        tinkKeyResource: vector.kekUri,
        certificateChainPath: chain,
        timestampSignerHash: hashFor(primary),
      },
      { openKek: openKekWithFakeKms },
    );
    expect(await timestampAndVerify(app, chain)).toMatch(/Verification: OK/);
    await app.close();
  });

  it('a P-521 keyset (no Tink vector has one; built here in the layout Tink writes: 67-byte integers)', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-521' });
    const jwk = privateKey.export({ format: 'jwk' });
    const fixed67 = (base64url: string | undefined) =>
      Buffer.concat([Buffer.alloc(1), Buffer.from(base64url ?? '', 'base64url')]);
    // EcdsaParams { hash_type SHA512 = 4, curve NIST_P521 = 4, encoding DER = 2 }
    const params = Buffer.concat([uintField(1, 4), uintField(2, 4), uintField(3, 2)]);
    const ecdsaPublicKey = Buffer.concat([
      bytesField(2, params),
      bytesField(3, fixed67(jwk.x)),
      bytesField(4, fixed67(jwk.y)),
    ]);
    const ecdsaPrivateKey = Buffer.concat([
      bytesField(2, ecdsaPublicKey),
      bytesField(3, fixed67(jwk.d)),
    ]);
    const kek = fakeKms(KEK_A!.uri);
    const keyset = encodeKeyset(77, [
      { keyId: 77, typeUrl: TYPE_URL.ecdsaPrivateKey, value: ecdsaPrivateKey },
    ]);
    const path = writeEncrypted('p521.json', kek.encrypt(keyset, new Uint8Array(0)));
    const signer = await load(path, KEK_A!.uri, 'sha512');
    expect(signer.publicKey.export({ type: 'spki', format: 'der' })).toEqual(
      publicKey.export({ type: 'spki', format: 'der' }),
    );
    expect(signer.algorithm.curve).toBe('secp521r1');

    await pki.cert('leaf-p521', {
      subject: '/O=test/CN=P-521',
      ext: EXT.leaf,
      issuer: 'intermediate',
      publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      csrKey: 'intermediate',
    });
    const chain = pki.chain('p521-chain.pem', 'leaf-p521', 'intermediate', 'root');
    const { app } = await createTestServer(
      {
        timestampSigner: 'tink',
        tinkKeysetPath: path,
        tinkKeyResource: KEK_A!.uri,
        certificateChainPath: chain,
        timestampSignerHash: 'sha512',
      },
      { openKek: openKekWithFakeKms },
    );
    expect(await timestampAndVerify(app, chain)).toMatch(/Verification: OK/);
    await app.close();
  });
});

describe('Tink signer refuses, with clear messages', () => {
  const javaP256 = () => vectors.find((vector) => vector.name === 'java_ecdsa_p256')!;
  const ciphertextOf = (path: string) =>
    Buffer.from(
      (JSON.parse(readFileSync(path, 'utf8')) as { encryptedKeyset: string }).encryptedKeyset,
      'base64',
    );

  it('the wrong KEK (B for a keyset wrapped by A, and A for one wrapped by B)', async () => {
    await expect(load(javaP256().path, KEK_B!.uri)).rejects.toThrow(
      /decryption failed with the fake-kms:\/\/ KEK/,
    );
    const wrappedByB = vectors.find((vector) => vector.name === 'ecdsa_p256_kekB')!;
    await expect(load(wrappedByB.path, KEK_A!.uri)).rejects.toThrow(/decryption failed/);
  });

  it('a keyset written with associated data (tinkey and the TSA use none)', async () => {
    const withAd = vectors.find((vector) => vector.associatedDataHex !== '')!;
    await expect(load(withAd.path, withAd.kekUri)).rejects.toThrow(/decryption failed/);
    // The same bytes open with that associated data: the failure is the AD, not the file.
    const plaintext = await fakeKms(withAd.kekUri).decrypt(
      ciphertextOf(withAd.path),
      Buffer.from(withAd.associatedDataHex, 'hex'),
    );
    expect(plaintext.length).toBeGreaterThan(0);
  });

  it('any flipped ciphertext bit, and truncations', async () => {
    const ciphertext = ciphertextOf(javaP256().path);
    for (const bit of [0, 7 * 8 + 3, 40 * 8, ciphertext.length * 8 - 1]) {
      const flipped = Buffer.from(ciphertext);
      flipped[bit >> 3] = (flipped[bit >> 3] as number) ^ (1 << (bit & 7));
      await expect(load(writeEncrypted('flipped.json', flipped), KEK_A!.uri)).rejects.toThrow(
        /decryption failed/,
      );
    }
    for (const length of [0, 4, 5 + 12 + 15, ciphertext.length - 1]) {
      const path = writeEncrypted('truncated.json', ciphertext.subarray(0, length));
      await expect(load(path, KEK_A!.uri)).rejects.toThrow(
        length === 0 ? /encryptedKeyset must be non-empty/ : /decryption failed/,
      );
    }
  });

  it('a DISABLED primary key', async () => {
    const multikey = vectors.find((vector) => vector.name === 'multikey_primary_second')!;
    const disabled = multikey.keys.find((key) => key.status === 'DISABLED')!;
    const kek = fakeKms(multikey.kekUri);
    const plaintext = Buffer.from(
      await kek.decrypt(ciphertextOf(multikey.path), new Uint8Array(0)),
    );
    // Keyset field 1 (primary_key_id) comes first; replace it, keep the keys byte for byte.
    expect(plaintext[0]).toBe(0x08);
    let end = 1;
    while ((plaintext[end] as number) & 0x80) end++;
    const repointed = Buffer.concat([uintField(1, disabled.keyId), plaintext.subarray(end + 1)]);
    const path = writeEncrypted('disabled-primary.json', kek.encrypt(repointed, new Uint8Array(0)));
    await expect(load(path, multikey.kekUri, 'sha512')).rejects.toThrow(
      `Tink primary key ${disabled.keyId} is DISABLED, not ENABLED`,
    );
  });

  it('a primary key id that no key has', async () => {
    const kek = fakeKms(KEK_A!.uri);
    const keyset = encodeKeyset(5, [
      { keyId: 6, typeUrl: TYPE_URL.ecdsaPrivateKey, value: new Uint8Array(0) },
    ]);
    const path = writeEncrypted('no-primary.json', kek.encrypt(keyset, new Uint8Array(0)));
    await expect(load(path, KEK_A!.uri)).rejects.toThrow(
      'Tink keyset has no key with the primary key id 5',
    );
  });

  it('unsupported key types, by name: a genuine tink-py AES-GCM keyset, and RSA', async () => {
    const py = JSON.parse(
      readFileSync(
        resolve(FIXTURES, 'repo-vectors/tink_py_json_fakekms_aes256gcm_no_ad.json'),
        'utf8',
      ),
    ) as { kekUri: string; encryptedKeysetJson: string };
    const path = work.write('py-aesgcm.json', py.encryptedKeysetJson);
    await expect(load(path, py.kekUri)).rejects.toThrow(
      'unsupported Tink key type type.googleapis.com/google.crypto.tink.AesGcmKey',
    );
    const rsaUrl = 'type.googleapis.com/google.crypto.tink.RsaSsaPkcs1PrivateKey';
    const kek = fakeKms(KEK_A!.uri);
    const keyset = encodeKeyset(9, [
      { keyId: 9, typeUrl: rsaUrl, value: Buffer.from([0x08, 0x00]) },
    ]);
    const rsaPath = writeEncrypted('rsa.json', kek.encrypt(keyset, new Uint8Array(0)));
    await expect(load(rsaPath, KEK_A!.uri)).rejects.toThrow(`unsupported Tink key type ${rsaUrl}`);
  });

  it('a JSON file that is not an EncryptedKeyset', async () => {
    const path = work.write('cleartext.json', JSON.stringify({ primaryKeyId: 1, key: [] }));
    await expect(load(path, KEK_A!.uri)).rejects.toThrow(
      'not a Tink EncryptedKeyset: unknown field "primaryKeyId"',
    );
  });

  it('a file that is no EncryptedKeyset, and a KEK plaintext that is no Keyset, said as such', async () => {
    const junk = work.write('junk.bin', Buffer.from('1205616263', 'hex'));
    await expect(load(junk, KEK_A!.uri)).rejects.toThrow(
      `tink: keyset ${junk}: not a Tink EncryptedKeyset: length-delimited field overruns its message`,
    );
    // A cleartext JSON keyset encrypted as it is, not by tinkey: the KEK opens it.
    const kek = fakeKms(KEK_A!.uri);
    const cleartext = readFileSync(
      resolve(FIXTURES, 'generated/tink-go-2.0.0/ecdsa_p256_sha256_der_tink.cleartext.json'),
    );
    const byHand = writeEncrypted('by-hand.json', kek.encrypt(cleartext, new Uint8Array(0)));
    await expect(load(byHand, KEK_A!.uri)).rejects.toMatchObject({
      code: 'INVALID_KEY',
      message: expect.stringContaining(
        `tink: keyset ${byHand}: the KEK decrypted the file, but the result is not a serialized Tink Keyset (unsupported wire type 3): was the keyset encrypted by hand`,
      ) as unknown,
    });
  });

  it("a keyset Go's Tink refuses: a P-256 key with SHA-512, a broken DISABLED key", async () => {
    const kek = fakeKms(KEK_A!.uri);
    const go = vectors.find((vector) => vector.name === 'ecdsa_p256_sha256_der_tink')!;
    const plaintext = Buffer.from(await kek.decrypt(ciphertextOf(go.path), new Uint8Array(0)));
    const keyset = parseKeyset(plaintext);
    const primary = keyset.keys[0]!;
    // EcdsaParams.hash_type (field 1) SHA256 = 3 → SHA512 = 4, the key otherwise unchanged.
    const sha512 = Buffer.from(primary.value);
    const params = Buffer.from([0x08, 0x03, 0x10, 0x02]);
    const at = sha512.indexOf(params);
    expect(at).toBeGreaterThan(0);
    sha512[at + 1] = 4;
    const rewritten = (keys: Parameters<typeof encodeKeyset>[1]) =>
      writeEncrypted(
        'refused.json',
        kek.encrypt(encodeKeyset(primary.keyId, keys), new Uint8Array(0)),
      );
    const asIs = { keyId: primary.keyId, typeUrl: primary.typeUrl, value: primary.value };
    await expect(load(rewritten([{ ...asIs, value: sha512 }]), KEK_A!.uri)).rejects.toThrow(
      'Tink ECDSA key: hash_type SHA512 is not allowed with NIST_P256',
    );
    await expect(
      load(rewritten([asIs, { ...asIs, keyId: 5, value: sha512, status: 2 }]), KEK_A!.uri),
    ).rejects.toThrow('Tink keyset: key 5 (DISABLED, not the primary) is not a valid key');
    // The same keyset, the copy valid: accepted.
    const signer = await load(rewritten([asIs, { ...asIs, keyId: 5, status: 2 }]), KEK_A!.uri);
    expect(signer.publicKey.export({ type: 'spki', format: 'der' }).toString('hex')).toBe(
      go.keys[0]!.publicKeySpkiDerHex,
    );
  });

  it('an Ed25519 keyset with a SHA-256 digest (RFC 8419 needs SHA-512)', async () => {
    const ed = vectors.find((vector) => vector.name === 'java_ed25519')!;
    await expect(load(ed.path, ed.kekUri, 'sha256')).rejects.toThrow(
      /Ed25519 keys require the SHA-512 digest/,
    );
  });

  it('a KEK scheme Tink has no client for (and fake-kms:// is for tests only)', async () => {
    await expect(openKek('azure-kms://vault.example/keys/k', {})).rejects.toThrow(
      'unsupported Tink KMS key type',
    );
    await expect(openKek('fake-kms://CM2b3_MDElQK', {})).rejects.toThrow(
      'unsupported Tink KMS key type',
    );
  });

  it('the public key in the vectors matches the SPKI PEM they state (sanity of the expectations)', () => {
    for (const vector of supported) {
      const primary = primaryOf(vector);
      expect(
        createPublicKey(primary.publicKeySpkiPem)
          .export({ type: 'spki', format: 'der' })
          .toString('hex'),
      ).toBe(primary.publicKeySpkiDerHex);
    }
  });
});

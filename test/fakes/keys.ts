import {
  constants,
  privateEncrypt,
  createCipheriv,
  createDecipheriv,
  createHash,
  generateKeyPairSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { signDigestEcdsa } from './raw-ecdsa.js';

export type FakeKeyKind =
  'ec-p256' | 'ec-p384' | 'ec-p521' | 'rsa-2048' | 'rsa-3072' | 'rsa-4096' | 'ed25519' | 'aes-256';

/** A key held by a fake service: an asymmetric signing key, or a symmetric key for Encrypt/Decrypt. */
export interface FakeKey {
  kind: FakeKeyKind;
  privateKey?: KeyObject;
  publicKey?: KeyObject;
  secret?: Buffer;
}

const CURVES = { 'ec-p256': 'P-256', 'ec-p384': 'P-384', 'ec-p521': 'P-521' } as const;

export function generateFakeKey(kind: FakeKeyKind): FakeKey {
  if (kind === 'aes-256') return { kind, secret: randomBytes(32) };
  const pair =
    kind === 'ed25519'
      ? generateKeyPairSync('ed25519')
      : kind.startsWith('rsa-')
        ? generateKeyPairSync('rsa', { modulusLength: Number(kind.slice(4)) })
        : generateKeyPairSync('ec', { namedCurve: CURVES[kind as keyof typeof CURVES] });
  return { kind, privateKey: pair.privateKey, publicKey: pair.publicKey };
}

/**
 * Signs a digest as a KMS does: ECDSA over the given digest (DER Ecdsa-Sig-Value), or RSA PKCS#1
 * v1.5 with the DigestInfo of `hash`. Node's sign with a null algorithm would not add DigestInfo,
 * so the digest is wrapped here.
 */
export async function signDigest(
  key: FakeKey,
  digest: Buffer,
  hash: 'sha256' | 'sha384' | 'sha512',
  pss?: { saltLength: number | 'max' },
): Promise<Buffer> {
  if (!key.privateKey) throw new Error('not a signing key');
  if (key.kind.startsWith('rsa-') && pss) {
    const bits = key.privateKey.asymmetricKeyDetails?.modulusLength ?? 0;
    const encoded = emsaPssEncode(digest, hash, bits - 1, pss.saltLength);
    const block = Buffer.concat([Buffer.alloc(bits / 8 - encoded.length), encoded]);
    return privateEncrypt({ key: key.privateKey, padding: constants.RSA_NO_PADDING }, block);
  }
  if (key.kind.startsWith('rsa-')) {
    return privateEncrypt(
      { key: key.privateKey, padding: constants.RSA_PKCS1_PADDING },
      Buffer.concat([DIGEST_INFO_PREFIX[hash], digest]),
    );
  }
  // Node's crypto always hashes before ECDSA; a KMS signs the digest it is given.
  if (key.kind.startsWith('ec-')) return signDigestEcdsa(key.privateKey, digest);
  throw new Error(`cannot sign a digest with ${key.kind}`);
}

/**
 * EMSA-PSS-ENCODE (RFC 8017 section 9.1.1) of a given digest with MGF1 over the same hash, as a
 * KMS signs PSS: node's sign() would hash again. 'max' is the longest salt the key allows
 * (Vault's default salt_length "auto").
 */
function emsaPssEncode(
  mHash: Buffer,
  hash: 'sha256' | 'sha384' | 'sha512',
  emBits: number,
  saltLength: number | 'max',
): Buffer {
  const hLen = mHash.length;
  const emLen = Math.ceil(emBits / 8);
  const sLen = saltLength === 'max' ? emLen - hLen - 2 : saltLength;
  const salt = randomBytes(sLen);
  const h = createHash(hash)
    .update(Buffer.concat([Buffer.alloc(8), mHash, salt]))
    .digest();
  const db = Buffer.concat([Buffer.alloc(emLen - sLen - hLen - 2), Buffer.from([1]), salt]);
  const mask = mgf1(h, db.length, hash);
  for (let i = 0; i < db.length; i++) db[i] = (db[i] as number) ^ (mask[i] as number);
  db[0] = (db[0] as number) & (0xff >> (8 * emLen - emBits));
  return Buffer.concat([db, h, Buffer.from([0xbc])]);
}

function mgf1(seed: Buffer, length: number, hash: string): Buffer {
  const blocks: Buffer[] = [];
  for (let counter = 0; blocks.length * seed.length < length; counter++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    blocks.push(createHash(hash).update(seed).update(c).digest());
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/** DER DigestInfo prefixes (RFC 8017 section 9.2, note 1). */
const DIGEST_INFO_PREFIX = {
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
};

/** The fake services' own ciphertext format: IV(12) || ciphertext || tag(16), AES-256-GCM. */
export function sealWith(
  key: FakeKey,
  plaintext: Uint8Array,
  aad: Uint8Array = Buffer.alloc(0),
): Buffer {
  if (!key.secret) throw new Error('not a symmetric key');
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key.secret, iv).setAAD(aad);
  return Buffer.concat([iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

export function openWith(
  key: FakeKey,
  sealed: Uint8Array,
  aad: Uint8Array = Buffer.alloc(0),
): Buffer {
  if (!key.secret) throw new Error('not a symmetric key');
  const data = Buffer.from(sealed);
  if (data.length < 28) throw new Error('ciphertext too short');
  const decipher = createDecipheriv('aes-256-gcm', key.secret, data.subarray(0, 12)).setAAD(aad);
  decipher.setAuthTag(data.subarray(data.length - 16));
  return Buffer.concat([decipher.update(data.subarray(12, data.length - 16)), decipher.final()]);
}

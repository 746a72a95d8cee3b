import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { KeyEncryptionKey } from '../../src/signers/tink/kek.js';
import { parseKeyset, primaryKey } from '../../src/signers/tink/keyset.js';
import { bytes, readMessage, uint } from '../../src/signers/tink/protobuf.js';
import { openKek } from '../../src/signers/tink/open-kek.js';

const AES_GCM_KEY = 'type.googleapis.com/google.crypto.tink.AesGcmKey';
const IV_LENGTH = 12;
const TAG_LENGTH = 16;

export interface FakeKms extends KeyEncryptionKey {
  aesKey: Buffer;
  encrypt(plaintext: Uint8Array, associatedData: Uint8Array): Uint8Array;
}

/**
 * Tink's test KEK: `fake-kms://` + base64url of a binary Keyset holding one AES-GCM key. The
 * ciphertext is Tink's AES-GCM output: prefix (0x01 || key id for TINK keys) || IV(12) || ct || tag(16).
 */
export function fakeKms(uri: string): FakeKms {
  if (!uri.startsWith('fake-kms://')) throw new Error(`not a fake-kms URI: ${uri}`);
  const key = primaryKey(parseKeyset(Buffer.from(uri.slice('fake-kms://'.length), 'base64url')));
  if (key.typeUrl !== AES_GCM_KEY)
    throw new Error(`fake-kms: want an AesGcmKey, got ${key.typeUrl}`);
  // AesGcmKey { uint32 version = 1; bytes key_value = 3; }
  const aesGcmKey = readMessage(key.value);
  if (uint(aesGcmKey, 1) !== 0n) throw new Error('fake-kms: AesGcmKey version must be 0');
  const aesKey = Buffer.from(bytes(aesGcmKey, 3));
  const algorithm = `aes-${aesKey.length * 8}-gcm` as 'aes-128-gcm' | 'aes-256-gcm';
  const prefix = Buffer.alloc(key.outputPrefixType === 3 ? 0 : 5);
  if (prefix.length) {
    prefix[0] = key.outputPrefixType === 1 ? 0x01 : 0x00;
    prefix.writeUInt32BE(key.keyId, 1);
  }
  return {
    uri,
    aesKey,
    encrypt(plaintext, associatedData) {
      const iv = randomBytes(IV_LENGTH);
      const cipher = createCipheriv(algorithm, aesKey, iv).setAAD(associatedData);
      return Buffer.concat([
        prefix,
        iv,
        cipher.update(plaintext),
        cipher.final(),
        cipher.getAuthTag(),
      ]);
    },
    async decrypt(ciphertext, associatedData) {
      const data = Buffer.from(ciphertext);
      if (
        data.length < prefix.length + IV_LENGTH + TAG_LENGTH ||
        !data.subarray(0, prefix.length).equals(prefix)
      ) {
        throw new Error('decryption failed');
      }
      const iv = data.subarray(prefix.length, prefix.length + IV_LENGTH);
      const decipher = createDecipheriv(algorithm, aesKey, iv).setAAD(associatedData);
      decipher.setAuthTag(data.subarray(data.length - TAG_LENGTH));
      try {
        return Buffer.concat([
          decipher.update(data.subarray(prefix.length + IV_LENGTH, -TAG_LENGTH)),
          decipher.final(),
        ]);
      } catch {
        throw new Error('decryption failed');
      }
    },
  };
}

/** openKek with fake-kms:// added, for createSigner's dependencies in tests. */
export const openKekWithFakeKms: typeof openKek = async (uri, options) =>
  uri.startsWith('fake-kms://') ? fakeKms(uri) : openKek(uri, options);

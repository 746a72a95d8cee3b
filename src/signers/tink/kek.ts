/**
 * A key-encryption key that unwraps a Tink EncryptedKeyset: the AEAD behind a KEK URI
 * (gcp-kms://, aws-kms://, hcvault://, or fake-kms:// in tests).
 */
export interface KeyEncryptionKey {
  readonly uri: string;
  decrypt(ciphertext: Uint8Array, associatedData: Uint8Array): Promise<Uint8Array>;
}

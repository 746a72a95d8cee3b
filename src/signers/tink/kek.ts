/**
 * A key-encryption key that unwraps a Tink EncryptedKeyset: the AEAD behind a KEK URI
 * (gcp-kms://, aws-kms://, hcvault://, or fake-kms:// in tests).
 */
export interface KeyEncryptionKey {
  readonly uri: string;
  /** `signal` aborts the service call (the start-up deadline, --kms-timeout). */
  decrypt(
    ciphertext: Uint8Array,
    associatedData: Uint8Array,
    signal?: AbortSignal,
  ): Promise<Uint8Array>;
  /** Releases the service client (its connections) once the keyset is unwrapped. */
  close?(): Promise<void> | void;
}

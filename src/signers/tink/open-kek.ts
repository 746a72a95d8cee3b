import type { KeyEncryptionKey } from './kek.js';

/**
 * The KEK behind a Tink key URI (gcp-kms://, aws-kms://, hcvault://). A stub on this branch: the
 * signers-kms branch replaces this file with the real implementations, keeping this signature.
 */
export async function openKek(
  uri: string,
  options: { vaultToken?: string },
): Promise<KeyEncryptionKey> {
  void uri;
  void options;
  throw new Error('unsupported Tink KMS key type');
}

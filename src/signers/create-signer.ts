import { parseHashName } from '../asn1/algorithms.js';
import { readSecret } from '../config/read-secret.js';
import type { ServeConfig } from '../config/schema.js';
import { loadCertificateChain } from '../x509/load-certificate-chain.js';
import { createFileSigner } from './file/file-signer.js';
import { looseKeyFilePermissions } from './file/key-file-permissions.js';
import { createMemorySigner, memorySignerFrom, type MemoryKeyMaterial } from './memory.js';
import { createKmsSignerWithChain } from './kms/kms-signer-config.js';
import type { SignerWithChain } from './signer.js';
import { openKek } from './tink/open-kek.js';
import { createTinkSigner, type OpenKek } from './tink/tink-signer.js';

export interface SignerDependencies {
  /** Start-up warnings (e.g. a key file readable by others). */
  warn?: (message: string) => void;
  /** The Tink KEK dispatch; tests pass a fake-kms:// one. */
  openKek?: OpenKek;
  /** The memory signer's key and chain made elsewhere (a cluster primary's), instead of new ones. */
  memoryKey?: MemoryKeyMaterial;
}

/** The configured signer and its certificate chain. */
export async function createSigner(
  config: ServeConfig,
  deps: SignerDependencies = {},
): Promise<SignerWithChain> {
  // 'auto' (the default): the digest follows the key (P-384: SHA-384, P-521 and Ed25519: SHA-512).
  const hash =
    config.timestampSignerHash === 'auto' ? 'auto' : parseHashName(config.timestampSignerHash);
  const warn = deps.warn ?? (() => {});
  switch (config.timestampSigner) {
    case 'memory':
      return deps.memoryKey ? memorySignerFrom(deps.memoryKey, hash) : createMemorySigner(hash);
    case 'kms':
      return createKmsSignerWithChain(config, hash);
    case 'file': {
      const password = await secretOption(
        config.fileSignerPasswd,
        config.fileSignerPasswdFile,
        'file-signer-passwd',
        warn,
      );
      const signer = await createFileSigner({
        keyPath: config.fileSignerKeyPath,
        password,
        hash,
        warn,
      });
      return { signer, chain: await loadCertificateChain(config.certificateChainPath) };
    }
    case 'tink': {
      const vaultToken = await secretOption(
        config.tinkHcvaultToken,
        config.tinkHcvaultTokenFile,
        'tink-hcvault-token',
        warn,
      );
      const signer = await createTinkSigner({
        keysetPath: config.tinkKeysetPath,
        kekUri: config.tinkKeyResource,
        vaultToken,
        hash,
        openKek: deps.openKek ?? openKek,
      });
      return { signer, chain: await loadCertificateChain(config.certificateChainPath) };
    }
    default:
      throw new Error(`unsupported signer type: ${config.timestampSigner}`);
  }
}

/** A secret from its flag or its `-file` variant; a file others can read is warned about. */
async function secretOption(
  value: string,
  file: string,
  flag: string,
  warn: (message: string) => void,
): Promise<string> {
  const secret = await readSecret(value, file, flag);
  await warnIfLoose(file, warn);
  return secret;
}

async function warnIfLoose(path: string, warn: (message: string) => void): Promise<void> {
  if (path === '') return;
  const loose = await looseKeyFilePermissions(path);
  if (loose) warn(loose);
}

import { readSecret } from '../config/read-secret.js';
import type { SecretSource, SignerConfig } from '../config/signer-config.js';
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
  config: SignerConfig,
  deps: SignerDependencies = {},
): Promise<SignerWithChain> {
  const { hash } = config;
  const warn = deps.warn ?? (() => {});
  switch (config.kind) {
    case 'memory':
      return deps.memoryKey ? memorySignerFrom(deps.memoryKey, hash) : createMemorySigner(hash);
    case 'kms':
      return createKmsSignerWithChain(config);
    case 'file': {
      const password = await secretOption(config.password, warn);
      const signer = await createFileSigner({ keyPath: config.keyPath, password, hash, warn });
      return { signer, chain: await loadCertificateChain(config.certificateChainPath) };
    }
    case 'tink': {
      const vaultToken = await secretOption(config.vaultToken, warn);
      const signer = await createTinkSigner({
        keysetPath: config.keysetPath,
        kekUri: config.kekUri,
        vaultToken,
        hash,
        openKek: deps.openKek ?? openKek,
      });
      return { signer, chain: await loadCertificateChain(config.certificateChainPath) };
    }
  }
}

/** A secret from its flag or its `-file` variant; a file others can read is warned about. */
async function secretOption(
  { inline, file, flag }: SecretSource,
  warn: (message: string) => void,
): Promise<string> {
  const secret = await readSecret(inline, file, flag);
  await warnIfLoose(file, warn);
  return secret;
}

async function warnIfLoose(path: string, warn: (message: string) => void): Promise<void> {
  if (path === '') return;
  const loose = await looseKeyFilePermissions(path);
  if (loose) warn(loose);
}

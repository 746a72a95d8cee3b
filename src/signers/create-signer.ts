import { X509Certificate, type KeyObject } from 'node:crypto';
import { readSecret } from '../config/read-secret.js';
import type { SecretSource, SignerConfig } from '../config/signer-config.js';
import { loadCertificateChain } from '../x509/load-certificate-chain.js';
import { createFileSigner } from './file/file-signer.js';
import { looseKeyFilePermissions } from './file/key-file-permissions.js';
import { createMemorySigner, memorySignerFrom, type MemoryKeyMaterial } from './memory.js';
import { createKmsSignerWithChain } from './kms/kms-signer-config.js';
import { watchCircuitBreaker } from './kms/remote-signer-metrics.js';
import type { SignerWithChain } from './signer.js';
import type { Signer } from '../crypto/signer.js';
import { openKek } from './tink/open-kek.js';
import { createTinkSigner, type OpenKek } from './tink/tink-signer.js';
import type { LoadModule } from './pkcs11/pkcs11-module.js';
import type { PinGate } from './pkcs11/pin-gate.js';

export interface SignerDependencies {
  /** Start-up warnings (e.g. a key file readable by others). */
  warn?: (message: string) => void;
  /** The Tink KEK dispatch; tests pass a fake-kms:// one. */
  openKek?: OpenKek;
  /** The memory signer's key and chain made elsewhere (a cluster primary's), instead of new ones. */
  memoryKey?: MemoryKeyMaterial;
  /** How the pkcs11 signer loads its module; tests inject faults. */
  loadPkcs11Module?: LoadModule;
  /** Where a pkcs11 signer's PIN offers are shared with a cluster's other workers. */
  pkcs11PinGate?: PinGate;
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
      return createKmsSignerWithChain(config, warn);
    case 'file': {
      const password = await secretOption(config.password, warn);
      const signer = await createFileSigner({ keyPath: config.keyPath, password, hash, warn });
      return { signer, chain: await loadCertificateChain(config.certificateChainPath) };
    }
    case 'pkcs11': {
      const chain = await loadCertificateChain(config.certificateChainPath);
      // Loaded only here: a server without a PKCS#11 key never loads the pkcs11js binding.
      const { createPkcs11Signer } = await import('./pkcs11/pkcs11-signer.js');
      const signer = await createPkcs11Signer(config.uri, hash, {
        maxSessions: config.maxSessions,
        timeoutMs: config.timeoutMs,
        breaker: { threshold: config.breakerThreshold, cooldownMs: config.breakerCooldownMs },
        certifiedKey: leafKeyOf(chain),
        warn,
        ...(deps.loadPkcs11Module ? { loadModule: deps.loadPkcs11Module } : {}),
        ...(deps.pkcs11PinGate ? { pinGate: deps.pkcs11PinGate } : {}),
      });
      watchCircuitBreaker(signer.breaker);
      return { signer, chain };
    }
    case 'tink': {
      const vaultToken = await secretOption(config.vaultToken, warn);
      const signer = await createTinkSigner({
        keysetPath: config.keysetPath,
        kekUri: config.kekUri,
        vaultToken,
        hash,
        timeoutMs: config.timeoutMs,
        openKek: deps.openKek ?? openKek,
      });
      return { signer, chain: await loadCertificateChain(config.certificateChainPath) };
    }
  }
}

/** The leaf's key (it chooses PSS for RSA keys); a leaf that does not parse is left to the chain rules. */
function leafKeyOf(chain: Buffer[]): KeyObject | undefined {
  try {
    return chain[0] && new X509Certificate(chain[0]).publicKey;
  } catch {
    return undefined;
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

/**
 * A key in a PKCS#11 token used for something other than tokens (the transparency log's
 * --ledger-key): loads pkcs11js only when called. `timeoutMs` is --pkcs11-timeout: the module may
 * be the token signer's too, and its calls are bounded alike.
 */
export async function openPkcs11Key(
  uri: string,
  timeoutMs: number,
  warn: (message: string) => void,
  pinGate?: PinGate,
): Promise<Signer> {
  const { createPkcs11Signer } = await import('./pkcs11/pkcs11-signer.js');
  return createPkcs11Signer(uri, 'auto', {
    maxSessions: 1,
    timeoutMs,
    warn,
    ...(pinGate ? { pinGate } : {}),
  });
}

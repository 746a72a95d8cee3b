import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { HashName } from '../asn1/algorithms.js';
import { OID } from '../asn1/oids.js';
import { createCertificate, KeyUsage, subjectKeyIdentifier } from '../x509/certificate-builder.js';
import { encodeName } from '../x509/name.js';
import { LocalKeySigner } from './local-key.js';
import type { SignerWithChain } from './signer.js';

const MINUTE = 60_000;

/** The memory signer's key and chain (DER, leaf first), e.g. to hand to cluster workers. */
export interface MemoryKeyMaterial {
  privateKey: KeyObject;
  chain: Buffer[];
}

/**
 * A fresh ECDSA P-256 key and a generated chain root -> intermediate -> leaf with the subjects,
 * validities and extensions of the Go server's memory signer. For testing only: both are new
 * at every start.
 */
export async function createMemorySigner(
  hash: HashName | 'auto',
  now = new Date(),
): Promise<SignerWithChain> {
  return memorySignerFrom(await createMemoryKeyMaterial(now), hash);
}

export function memorySignerFrom(
  material: MemoryKeyMaterial,
  hash: HashName | 'auto',
): SignerWithChain {
  return {
    signer: new LocalKeySigner('memory', material.privateKey, hash),
    chain: material.chain,
  };
}

export async function createMemoryKeyMaterial(now = new Date()): Promise<MemoryKeyMaterial> {
  const newKey = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rootKeys = newKey();
  const intermediateKeys = newKey();
  const leafKeys = newKey();
  const rootSigner = new LocalKeySigner('memory-root', rootKeys.privateKey, 'sha256');
  const intermediateSigner = new LocalKeySigner(
    'memory-intermediate',
    intermediateKeys.privateKey,
    'sha256',
  );
  const at = (offset: number) => new Date(now.getTime() + offset);
  /** Go's now.AddDate(years, 0, 0): the same day and time `years` later (29 February: 1 March). */
  const yearsLater = (years: number) => {
    const later = new Date(now.getTime());
    later.setUTCFullYear(later.getUTCFullYear() + years);
    return later;
  };

  const rootSubject = { organization: 'local', commonName: 'Test TSA Root' };
  const root = await createCertificate(
    {
      subject: rootSubject,
      notBefore: at(-5 * MINUTE),
      notAfter: yearsLater(10),
      publicKey: rootKeys.publicKey,
      basicConstraints: {},
      keyUsage: [KeyUsage.keyCertSign, KeyUsage.cRLSign],
    },
    'self-signed',
    rootSigner,
  );
  const intermediateSubject = { organization: 'local', commonName: 'Test TSA Intermediate' };
  const intermediate = await createCertificate(
    {
      subject: intermediateSubject,
      notBefore: at(-5 * MINUTE),
      notAfter: yearsLater(10),
      publicKey: intermediateKeys.publicKey,
      basicConstraints: {},
      keyUsage: [KeyUsage.keyCertSign, KeyUsage.cRLSign],
      extendedKeyUsage: { purposes: [OID.timeStamping], critical: false },
    },
    {
      name: encodeName(rootSubject),
      signer: rootSigner,
      subjectKeyIdentifier: subjectKeyIdentifier(rootKeys.publicKey),
    },
  );
  const leaf = await createCertificate(
    {
      subject: { organization: 'local', commonName: 'Test TSA Timestamping' },
      notBefore: at(-3 * MINUTE),
      notAfter: yearsLater(9),
      publicKey: leafKeys.publicKey,
      keyUsage: [KeyUsage.digitalSignature],
      extendedKeyUsage: { purposes: [OID.timeStamping], critical: true },
    },
    {
      name: encodeName(intermediateSubject),
      signer: intermediateSigner,
      subjectKeyIdentifier: subjectKeyIdentifier(intermediateKeys.publicKey),
    },
  );
  return { privateKey: leafKeys.privateKey, chain: [leaf, intermediate, root] };
}

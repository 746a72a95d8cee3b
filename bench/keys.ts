import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { HashName } from '../src/asn1/algorithms.js';
import { OID } from '../src/asn1/oids.js';
import { LocalKeySigner } from '../src/signers/local-key.js';
import type { SignerWithChain } from '../src/signers/signer.js';
import {
  createCertificate,
  KeyUsage,
  subjectKeyIdentifier,
} from '../src/x509/certificate-builder.js';
import { encodeName } from '../src/x509/name.js';

export const KEY_KINDS = ['p256', 'p384', 'rsa2048', 'ed25519'] as const;
export type KeyKind = (typeof KEY_KINDS)[number];

export const HASH_FOR: Record<KeyKind, HashName> = {
  p256: 'sha256',
  p384: 'sha384',
  rsa2048: 'sha256',
  ed25519: 'sha512',
};

export function generateKey(kind: KeyKind): KeyObject {
  switch (kind) {
    case 'p256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    case 'p384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
    case 'rsa2048':
      return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    case 'ed25519':
      return generateKeyPairSync('ed25519').privateKey;
  }
}

/** A signer of the given key kind with a two-certificate chain (leaf, P-256 root). */
export async function createBenchSigner(
  kind: KeyKind,
): Promise<SignerWithChain & { privateKey: KeyObject }> {
  const now = Date.now();
  const root = new LocalKeySigner('bench-root', generateKey('p256'), 'sha256');
  const rootSubject = { commonName: 'Bench TSA Root' };
  const rootCertificate = await createCertificate(
    {
      subject: rootSubject,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 86_400_000),
      publicKey: root.publicKey,
      basicConstraints: {},
      keyUsage: [KeyUsage.keyCertSign],
    },
    'self-signed',
    root,
  );
  const privateKey = generateKey(kind);
  const signer = new LocalKeySigner(`bench-${kind}`, privateKey, HASH_FOR[kind]);
  const leaf = await createCertificate(
    {
      subject: { commonName: `Bench TSA ${kind}` },
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 86_400_000),
      publicKey: signer.publicKey,
      keyUsage: [KeyUsage.digitalSignature],
      extendedKeyUsage: { purposes: [OID.timeStamping], critical: true },
    },
    {
      name: encodeName(rootSubject),
      signer: root,
      subjectKeyIdentifier: subjectKeyIdentifier(root.publicKey),
    },
  );
  return { signer, chain: [leaf, rootCertificate], privateKey };
}

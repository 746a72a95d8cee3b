import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
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
import { encodePem } from '../src/x509/pem.js';

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

/**
 * A chain leaf -> intermediate -> root (P-256 CAs, the intermediate with the timeStamping EKU) that
 * certifies `leafPublicKey` and passes the server's start-up rules.
 */
export async function createBenchChain(leafPublicKey: KeyObject): Promise<Buffer[]> {
  const now = Date.now();
  const validity = { notBefore: new Date(now - 60_000), notAfter: new Date(now + 7 * 86_400_000) };
  const root = new LocalKeySigner('bench-root', generateKey('p256'), 'sha256');
  const rootSubject = { commonName: 'Bench TSA Root' };
  const rootCertificate = await createCertificate(
    {
      subject: rootSubject,
      ...validity,
      publicKey: root.publicKey,
      basicConstraints: {},
      keyUsage: [KeyUsage.keyCertSign],
    },
    'self-signed',
    root,
  );
  const intermediate = new LocalKeySigner('bench-intermediate', generateKey('p256'), 'sha256');
  const intermediateSubject = { commonName: 'Bench TSA Intermediate' };
  const intermediateCertificate = await createCertificate(
    {
      subject: intermediateSubject,
      ...validity,
      publicKey: intermediate.publicKey,
      basicConstraints: {},
      keyUsage: [KeyUsage.keyCertSign],
      extendedKeyUsage: { purposes: [OID.timeStamping], critical: false },
    },
    {
      name: encodeName(rootSubject),
      signer: root,
      subjectKeyIdentifier: subjectKeyIdentifier(root.publicKey),
    },
  );
  const leaf = await createCertificate(
    {
      subject: { commonName: 'Bench TSA' },
      ...validity,
      publicKey: leafPublicKey,
      keyUsage: [KeyUsage.digitalSignature],
      extendedKeyUsage: { purposes: [OID.timeStamping], critical: true },
    },
    {
      name: encodeName(intermediateSubject),
      signer: intermediate,
      subjectKeyIdentifier: subjectKeyIdentifier(intermediate.publicKey),
    },
  );
  return [leaf, intermediateCertificate, rootCertificate];
}

/** A signer of the given key kind with a chain from {@link createBenchChain}. */
export async function createBenchSigner(
  kind: KeyKind,
): Promise<SignerWithChain & { privateKey: KeyObject }> {
  const privateKey = generateKey(kind);
  const signer = new LocalKeySigner(`bench-${kind}`, privateKey, HASH_FOR[kind]);
  return { signer, chain: await createBenchChain(signer.publicKey), privateKey };
}

/** Writes a key of `kind` and its chain as PEM files; returns the server flags that use them. */
export async function writeFileSignerFiles(kind: KeyKind, dir: string): Promise<string[]> {
  const { chain, privateKey } = await createBenchSigner(kind);
  const keyPath = join(dir, `${kind}.key.pem`);
  const chainPath = join(dir, `${kind}.chain.pem`);
  writeFileSync(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(chainPath, chain.map((der) => encodePem('CERTIFICATE', der)).join(''));
  return [
    '--timestamp-signer=file',
    `--timestamp-signer-hash=${HASH_FOR[kind]}`,
    `--file-signer-key-path=${keyPath}`,
    `--certificate-chain-path=${chainPath}`,
  ];
}

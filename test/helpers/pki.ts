import { createHash, generateKeyPairSync } from 'node:crypto';
import { HASHES, type HashName } from '../../src/asn1/algorithms.js';
import { integer, oid, oidContent } from '../../src/asn1/der.js';
import { OID } from '../../src/asn1/oids.js';
import type { Signer } from '../../src/crypto/signer.js';
import { LocalKeySigner } from '../../src/signers/local-key.js';
import { TokenEncoder } from '../../src/tsp/token-encoder.js';
import { parseCertificate } from '../../src/x509/certificate.js';
import {
  createCertificate,
  KeyUsage,
  subjectKeyIdentifier,
  type CertificateTemplate,
} from '../../src/x509/certificate-builder.js';
import { encodeName, type NameAttributes } from '../../src/x509/name.js';
import { encodePem } from '../../src/x509/pem.js';

const DAY = 86_400_000;

export interface Party {
  signer: Signer;
  subject: NameAttributes;
  der: Buffer;
}

/** Changes to a default template; `undefined` removes an extension. */
type TemplateChanges = {
  [K in keyof Omit<CertificateTemplate, 'publicKey' | 'subject'>]?:
    CertificateTemplate[K] | undefined;
} & { subject?: NameAttributes };

export function newSigner(name: string, hash: HashName = 'sha256'): Signer {
  return new LocalKeySigner(
    name,
    generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
    hash,
  );
}

/** Issues one certificate for `signer` from `issuer` (or self-signed). */
export async function issue(
  signer: Signer,
  template: CertificateTemplate,
  issuer: Party | 'self-signed',
): Promise<Buffer> {
  return issuer === 'self-signed'
    ? createCertificate(template, 'self-signed', signer)
    : createCertificate(template, {
        name: encodeName(issuer.subject),
        signer: issuer.signer,
        subjectKeyIdentifier: subjectKeyIdentifier(issuer.signer.publicKey),
      });
}

/** A default template with changes applied; a change to `undefined` removes that extension. */
function merge(
  template: CertificateTemplate,
  changes: TemplateChanges | undefined,
): CertificateTemplate {
  const merged = { ...template, ...changes } as CertificateTemplate;
  merged.subject = template.subject;
  return merged;
}

export interface Pki {
  root: Party;
  intermediate: Party;
  leaf: Party;
  /** PEM of intermediate + root (Go's --certificate-chain) */
  chainPem: string;
}

/**
 * A root -> intermediate -> leaf TSA chain like the memory signer's, with per-certificate changes
 * (validity, EKU, CA flags...) for the negative cases.
 */
export async function makePki(
  changes: { root?: TemplateChanges; intermediate?: TemplateChanges; leaf?: TemplateChanges } = {},
  now = new Date(),
): Promise<Pki> {
  const at = (days: number) => new Date(now.getTime() + days * DAY);
  const party = async (
    name: string,
    subject: NameAttributes,
    defaults: Omit<CertificateTemplate, 'publicKey' | 'subject'>,
    own: TemplateChanges | undefined,
    issuer: Party | 'self-signed',
  ): Promise<Party> => {
    const signer = newSigner(name);
    const finalSubject = own?.subject ?? subject;
    const der = await issue(
      signer,
      merge({ ...defaults, subject: finalSubject, publicKey: signer.publicKey }, own),
      issuer,
    );
    return { signer, subject: finalSubject, der };
  };
  const caDefaults = {
    notBefore: at(-365),
    notAfter: at(3650),
    basicConstraints: {},
    keyUsage: [KeyUsage.keyCertSign, KeyUsage.cRLSign],
  };
  const root = await party(
    'root',
    { organization: 'test', commonName: 'Test Root' },
    caDefaults,
    changes.root,
    'self-signed',
  );
  const intermediate = await party(
    'intermediate',
    { organization: 'test', commonName: 'Test Intermediate' },
    { ...caDefaults, extendedKeyUsage: { purposes: [OID.timeStamping], critical: false } },
    changes.intermediate,
    root,
  );
  const leaf = await party(
    'leaf',
    { organization: 'test', commonName: 'Test TSA Timestamping' },
    {
      notBefore: at(-30),
      notAfter: at(365),
      keyUsage: [KeyUsage.digitalSignature],
      extendedKeyUsage: { purposes: [OID.timeStamping], critical: true },
    },
    changes.leaf,
    intermediate,
  );
  const chainPem = [intermediate, root]
    .map((member) => encodePem('CERTIFICATE', member.der))
    .join('');
  return { root, intermediate, leaf, chainPem };
}

export interface TokenRequest {
  artifact: Uint8Array;
  nonce?: bigint;
  policy?: string;
  certReq?: boolean;
  genTime?: Date;
  /** Certificates embedded with certReq; the leaf alone by default. */
  embedded?: Buffer[];
}

/** The TokenEncoder used by the server, for a signer and the certificates (signer's leaf first). */
export function encoderFor(
  signer: Signer,
  certificates: Buffer[],
  includeChain: boolean,
): TokenEncoder {
  return new TokenEncoder({
    signer,
    chain: certificates.map(parseCertificate),
    defaultPolicy: oid(OID.sigstoreTsaPolicy),
    accuracySeconds: 1,
    includeChain,
  });
}

export function acceptedRequest(request: TokenRequest) {
  return {
    version: 1n,
    hashAlgorithmOid: oidContent(OID.sha256),
    hashedMessage: createHash('sha256').update(request.artifact).digest(),
    certReq: request.certReq ?? true,
    hash: HASHES.sha256,
    ...(request.nonce !== undefined ? { nonce: integer(request.nonce) } : {}),
    ...(request.policy !== undefined ? { reqPolicy: oid(request.policy) } : {}),
  };
}

/** A granted TimeStampResp signed by the PKI's leaf key. */
export async function issueToken(pki: Pki, request: TokenRequest): Promise<Buffer> {
  const embedded = request.embedded ?? [pki.leaf.der];
  const encoder = encoderFor(pki.leaf.signer, embedded, embedded.length > 1);
  return encoder.encode({
    request: acceptedRequest(request),
    serialNumber: Buffer.from('0123456789', 'hex'),
    // As the authority gives it: whole seconds, the profile's accuracy being 1 s.
    genTime: encoder.genTimeAt((request.genTime ?? new Date()).getTime()),
  });
}

import { OID } from '../asn1/oids.js';
import type { Signer } from '../crypto/signer.js';
import {
  createCertificate,
  KeyUsage,
  subjectKeyIdentifier,
  type CertificateIssuer,
} from './certificate-builder.js';
import { CSBR_MIN_RSA_BITS, weakRsaKeyWarning } from './csbr.js';
import { encodeName, type NameAttributes } from './name.js';
import type { PrivateKeyUsagePeriod } from './private-key-usage-period.js';

const HOUR = 3_600_000;

/** Go certificate-maker's default lifetimes: root 87600h, intermediate 43800h, leaf 8760h. */
export const DEFAULT_LIFETIMES = {
  root: 87_600 * HOUR,
  intermediate: 43_800 * HOUR,
  leaf: 8_760 * HOUR,
} as const;

export interface ChainMember {
  /** Holds the certificate's key; CA members also sign the certificate below them with it. */
  signer: Signer;
  subject: NameAttributes;
  notBefore: Date;
  notAfter: Date;
}

export interface ChainPlan {
  root: ChainMember;
  /** Without an intermediate, the root issues the leaf directly. */
  intermediate?: ChainMember;
  leaf: ChainMember & {
    /** The leaf's privateKeyUsagePeriod (X.509 section 9.2.2.5); none when absent. */
    privateKeyUsagePeriod?: PrivateKeyUsagePeriod;
  };
}

/**
 * Makes a TSA certificate chain root -> [intermediate] -> leaf, every certificate signed through
 * the Signer interface (so KMS keys work as local ones). Returns the DER chain leaf first, the
 * order the server's --certificate-chain-path expects.
 *
 * - root: CA, pathLen 1, keyCertSign + cRLSign, no EKU (certificate-maker's root template);
 * - intermediate: CA, pathLen 0, keyCertSign + cRLSign, EKU timeStamping, so the server's default
 *   --enforce-intermediate-eku accepts it (the template trap of Go issues #1088/#1141);
 * - leaf: end-entity, digitalSignature only, EKU timeStamping alone and critical (RFC 3161 2.3),
 *   and the privateKeyUsagePeriod asked for, non-critical (RFC 3280 section 4.2.1.4).
 * A certificate never outlives its issuer: notAfter is clamped to the issuer's, and the leaf key's
 * usage period to the leaf's validity. RSA keys below CSBR 6.1.5's sizes (CA 4096, TSA 3072 bits)
 * are warned about through `warn`.
 */
export async function makeCertificateChain(
  plan: ChainPlan,
  warn: (message: string) => void = () => {},
): Promise<Buffer[]> {
  const { root, intermediate, leaf } = plan;
  // CSBR 6.1.5: RSA CA keys of 4096 bits, TSA keys of 3072; weaker ones are made, with a warning.
  for (const [member, what, minimum] of [
    [root, 'the root key', CSBR_MIN_RSA_BITS.ca],
    [intermediate, 'the intermediate key', CSBR_MIN_RSA_BITS.ca],
    [leaf, 'the leaf (TSA) key', CSBR_MIN_RSA_BITS.tsa],
  ] as const) {
    const weak = member && weakRsaKeyWarning(member.signer.publicKey, what, minimum);
    if (weak) warn(weak);
  }
  const rootCertificate = await createCertificate(
    {
      subject: root.subject,
      notBefore: root.notBefore,
      notAfter: root.notAfter,
      publicKey: root.signer.publicKey,
      basicConstraints: { pathLenConstraint: 1 },
      keyUsage: [KeyUsage.keyCertSign, KeyUsage.cRLSign],
    },
    'self-signed',
    root.signer,
  );
  const chain: Buffer[] = [rootCertificate];
  let leafIssuer = root;

  if (intermediate) {
    leafIssuer = { ...intermediate, notAfter: earliest(intermediate.notAfter, root.notAfter) };
    chain.unshift(
      await createCertificate(
        {
          subject: intermediate.subject,
          notBefore: intermediate.notBefore,
          notAfter: leafIssuer.notAfter,
          publicKey: intermediate.signer.publicKey,
          basicConstraints: { pathLenConstraint: 0 },
          keyUsage: [KeyUsage.keyCertSign, KeyUsage.cRLSign],
          extendedKeyUsage: { purposes: [OID.timeStamping], critical: false },
        },
        issuedBy(root),
      ),
    );
  }

  const leafNotAfter = earliest(leaf.notAfter, leafIssuer.notAfter);
  const period = leaf.privateKeyUsagePeriod;
  chain.unshift(
    await createCertificate(
      {
        subject: leaf.subject,
        notBefore: leaf.notBefore,
        notAfter: leafNotAfter,
        publicKey: leaf.signer.publicKey,
        keyUsage: [KeyUsage.digitalSignature],
        extendedKeyUsage: { purposes: [OID.timeStamping], critical: true },
        ...(period && {
          privateKeyUsagePeriod: {
            ...period,
            ...(period.notAfter && { notAfter: earliest(period.notAfter, leafNotAfter) }),
          },
        }),
      },
      issuedBy(leafIssuer),
    ),
  );
  return chain;
}

function issuedBy(issuer: ChainMember): CertificateIssuer {
  return {
    name: encodeName(issuer.subject),
    signer: issuer.signer,
    subjectKeyIdentifier: subjectKeyIdentifier(issuer.signer.publicKey),
  };
}

function earliest(notAfter: Date, issuerNotAfter: Date): Date {
  return notAfter > issuerNotAfter ? issuerNotAfter : notAfter;
}

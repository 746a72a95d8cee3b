import { OID } from '../asn1/oids.js';
import {
  bitString,
  boolean,
  contextTag,
  integer,
  namedBitString,
  octetString,
  oid,
  sequence,
  set,
  tlv,
} from '../asn1/der.js';
import type { Signer } from '../crypto/signer.js';
import { KeyUsage, privateKeyUsagePeriodValue } from './certificate-builder.js';
import type { PrivateKeyUsagePeriod } from './private-key-usage-period.js';
import { encodeName, type NameAttributes } from './name.js';

const EXTENSION_REQUEST = '1.2.840.113549.1.9.14';

/**
 * A PKCS#10 CertificationRequest (RFC 2986) for a TSA leaf key, signed through the Signer. It asks,
 * in an extensionRequest attribute, for what a TSA certificate needs: keyUsage digitalSignature and
 * a critical extendedKeyUsage of timeStamping alone, so the signing CA can copy them; and, when
 * given, the privateKeyUsagePeriod (non-critical, RFC 3280 section 4.2.1.4) that bounds when the
 * key may sign.
 *
 *   CertificationRequestInfo ::= SEQUENCE { version INTEGER { v1(0) }, subject Name,
 *     subjectPKInfo SubjectPublicKeyInfo, attributes [0] IMPLICIT Attributes }
 */
export async function createCertificationRequest(
  signer: Signer,
  subject: NameAttributes,
  privateKeyUsagePeriod?: PrivateKeyUsagePeriod,
): Promise<Buffer> {
  const extensions = sequence(
    sequence(
      oid(OID.keyUsage),
      boolean(true),
      octetString(namedBitString([KeyUsage.digitalSignature])),
    ),
    sequence(oid(OID.extKeyUsage), boolean(true), octetString(sequence(oid(OID.timeStamping)))),
    ...(privateKeyUsagePeriod
      ? [
          sequence(
            oid(OID.privateKeyUsagePeriod),
            octetString(privateKeyUsagePeriodValue(privateKeyUsagePeriod)),
          ),
        ]
      : []),
  );
  const info = sequence(
    integer(0),
    encodeName(subject),
    signer.publicKey.export({ type: 'spki', format: 'der' }),
    tlv(contextTag(0, true), sequence(oid(EXTENSION_REQUEST), set(extensions))),
  );
  const signature = await signer.sign(info);
  return sequence(info, signer.algorithm.identifier, bitString(signature));
}

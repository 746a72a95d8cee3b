import type { KeyObject } from 'node:crypto';
import { HASHES, isHashName, type HashName } from '../asn1/algorithms.js';
import { DerSequenceReader, oidToString, readElement, readExactly, Tag } from '../asn1/der.js';
import { OID } from '../asn1/oids.js';
import type { SignatureAlgorithm } from '../crypto/signer.js';

/**
 * CA/Browser Forum Baseline Requirements for code signing (CSBR) section 6.1.5: RSA moduli of at
 * least 4096 bits for root and subordinate CA keys and 3072 bits for Timestamp Authority keys.
 * Advice for a TSA whose tokens sign code; the server warns and still starts.
 */
export const CSBR_MIN_RSA_BITS = { ca: 4096, tsa: 3072 } as const;

const SIGNATURE_HASHES: Record<string, HashName | 'sha1'> = {
  [OID.ecdsaWithSHA256]: 'sha256',
  [OID.ecdsaWithSHA384]: 'sha384',
  [OID.ecdsaWithSHA512]: 'sha512',
  [OID.sha256WithRSAEncryption]: 'sha256',
  [OID.sha384WithRSAEncryption]: 'sha384',
  [OID.sha512WithRSAEncryption]: 'sha512',
  '1.2.840.113549.1.1.5': 'sha1',
  '1.2.840.10045.4.1': 'sha1',
};

/** A warning for an RSA key below `minimum` bits, else undefined. */
export function weakRsaKeyWarning(
  key: KeyObject,
  what: string,
  minimum: number,
): string | undefined {
  const type = key.asymmetricKeyType;
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if ((type !== 'rsa' && type !== 'rsa-pss') || bits >= minimum) return undefined;
  return `${what} is RSA ${bits} bits; the CA/Browser Forum code-signing requirements (CSBR 6.1.5) ask for at least ${minimum}`;
}

/**
 * The TSA's start-up warnings under CSBR 6.1.5: an RSA key below 3072 bits, and a token digest
 * other than the one that signed the TSA certificate. `hashSetting` says how to set the digest
 * (the flag; a profile's key in the config file).
 */
export function tsaKeyWarnings(
  algorithm: SignatureAlgorithm,
  key: KeyObject,
  leafDer: Uint8Array,
  hashSetting: (hash: string) => string = (hash) => `--timestamp-signer-hash=${hash}`,
): string[] {
  const warnings: string[] = [];
  const weak = weakRsaKeyWarning(key, 'the TSA key', CSBR_MIN_RSA_BITS.tsa);
  if (weak) warnings.push(weak);
  const certificateHash = certificateSignatureHash(leafDer);
  if (certificateHash && certificateHash !== algorithm.hash) {
    warnings.push(
      `the token digest ${algorithm.hash.toUpperCase()} differs from the ${certificateHash.toUpperCase()} that signed the TSA certificate; ` +
        `the CA/Browser Forum code-signing requirements (CSBR 6.1.5) want them equal` +
        (isHashName(certificateHash) ? ` (set ${hashSetting(certificateHash)})` : ''),
    );
  }
  return warnings;
}

/**
 * The digest of a certificate's signatureAlgorithm (RSASSA-PSS: its hashAlgorithm parameter);
 * undefined for Ed25519 or an algorithm not listed.
 */
export function certificateSignatureHash(der: Uint8Array): HashName | 'sha1' | undefined {
  try {
    const certificate = new DerSequenceReader(readExactly(der, Tag.SEQUENCE).value);
    certificate.next(Tag.SEQUENCE); // tbsCertificate
    const algorithm = new DerSequenceReader(certificate.next(Tag.SEQUENCE).value);
    const dotted = oidToString(algorithm.next(Tag.OID).value);
    if (dotted !== OID.rsassaPss) return SIGNATURE_HASHES[dotted];
    // RSASSA-PSS-params { hashAlgorithm [0] AlgorithmIdentifier DEFAULT sha1, ... }
    const params = new DerSequenceReader(algorithm.next(Tag.SEQUENCE).value);
    const hashField = params.optional(0xa0);
    if (!hashField) return 'sha1';
    const hashAlgorithm = new DerSequenceReader(readElement(hashField.value).value);
    const hashOid = oidToString(hashAlgorithm.next(Tag.OID).value);
    return (
      Object.values(HASHES).find((hash) => hash.oid === hashOid)?.name ??
      (hashOid === OID.sha1 ? 'sha1' : undefined)
    );
  } catch {
    return undefined;
  }
}

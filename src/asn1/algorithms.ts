import { constants, type KeyObject, type SignKeyObjectInput } from 'node:crypto';
import { contextTag, integer, NULL, oid, oidContent, sequence, tlv } from './der.js';
import { OID } from './oids.js';

/** The hash algorithms a request may use and a signer may sign with. */
export type HashName = 'sha256' | 'sha384' | 'sha512';

export interface HashAlgorithm {
  name: HashName;
  oid: string;
  /** Digest length in octets. */
  length: number;
  /** AlgorithmIdentifier with NULL parameters (TSTInfo messageImprint, as Go emits). */
  identifierWithNull: Buffer;
  /** AlgorithmIdentifier with absent parameters (CMS digestAlgorithm, RFC 5754). */
  identifier: Buffer;
}

function hashAlgorithm(name: HashName, dotted: string, length: number): HashAlgorithm {
  return {
    name,
    oid: dotted,
    length,
    identifierWithNull: sequence(oid(dotted), NULL),
    identifier: sequence(oid(dotted)),
  };
}

export const HASHES: Readonly<Record<HashName, HashAlgorithm>> = {
  sha256: hashAlgorithm('sha256', OID.sha256, 32),
  sha384: hashAlgorithm('sha384', OID.sha384, 48),
  sha512: hashAlgorithm('sha512', OID.sha512, 64),
};

export const HASH_NAMES = Object.keys(HASHES) as HashName[];

const HASH_OID_CONTENTS = Object.values(HASHES).map(
  (hash) => [oidContent(hash.oid), hash] as const,
);

/** The accepted hash whose OID has these content octets, if any. */
export function hashByOidContent(content: Uint8Array): HashAlgorithm | undefined {
  for (const [oidBytes, hash] of HASH_OID_CONTENTS) if (oidBytes.equals(content)) return hash;
  return undefined;
}

export const SHA1_OID_CONTENT = oidContent(OID.sha1);

/** Parses a hash name as the Go flags do (case-insensitive). */
export function parseHashName(value: string): HashName {
  const name = value.toLowerCase();
  if (name in HASHES) return name as HashName;
  throw new Error(`unsupported hash algorithm: ${value} (valid: ${HASH_NAMES.join(', ')})`);
}

export type KeyType = 'ec' | 'rsa' | 'ed25519';

/** How a signer's signatures are made and labelled, fixed for the key's life. */
export interface SignatureAlgorithm {
  keyType: KeyType;
  /** The digest: CMS digestAlgorithm and messageDigest attribute. */
  hash: HashName;
  /** Signature OID, e.g. ecdsa-with-SHA256. */
  oid: string;
  /** DER AlgorithmIdentifier of the signature (RFC 5758, RFC 4055, RFC 8410). */
  identifier: Buffer;
  /** Named curve for EC keys (node name: prime256v1, secp384r1, secp521r1). */
  curve?: string;
  /** RSA keys only: RSASSA-PSS (RFC 4055) instead of PKCS#1 v1.5. */
  pss?: boolean;
  /** RSA keys only: the modulus length in bits. */
  bits?: number;
}

export interface SignatureOptions {
  /**
   * Sign an RSA key with RSASSA-PSS. RSA-PSS keys (id-RSASSA-PSS) always do; a plain RSA key does
   * when its certificate or its KMS says so.
   */
  pss?: boolean;
}

const ECDSA_OIDS: Record<HashName, string> = {
  sha256: OID.ecdsaWithSHA256,
  sha384: OID.ecdsaWithSHA384,
  sha512: OID.ecdsaWithSHA512,
};
const RSA_OIDS: Record<HashName, string> = {
  sha256: OID.sha256WithRSAEncryption,
  sha384: OID.sha384WithRSAEncryption,
  sha512: OID.sha512WithRSAEncryption,
};

/**
 * The signature algorithm for a public key and digest. ECDSA and Ed25519 identifiers carry no
 * parameters (RFC 5758, RFC 8410); RSA PKCS#1 v1.5 carries NULL (RFC 4055). Ed25519 with signed
 * attributes requires SHA-512 (RFC 8419 section 3).
 */
export function signatureAlgorithmFor(
  publicKey: KeyObject,
  hash: HashName,
  options: SignatureOptions = {},
): SignatureAlgorithm {
  switch (publicKey.asymmetricKeyType) {
    case 'ec': {
      const curve = publicKey.asymmetricKeyDetails?.namedCurve;
      if (curve !== 'prime256v1' && curve !== 'secp384r1' && curve !== 'secp521r1') {
        throw new Error(`unsupported EC curve ${curve ?? 'unknown'}: use P-256, P-384 or P-521`);
      }
      const dotted = ECDSA_OIDS[hash];
      return { keyType: 'ec', hash, oid: dotted, identifier: sequence(oid(dotted)), curve };
    }
    case 'rsa':
    case 'rsa-pss': {
      const bits = publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
      if (bits < 2048 || bits > 4096) {
        throw new Error(`unsupported RSA key size ${bits}: use 2048 to 4096 bits`);
      }
      if (publicKey.asymmetricKeyType === 'rsa-pss' || options.pss) {
        checkPssKeyParameters(publicKey, hash);
        return {
          keyType: 'rsa',
          hash,
          oid: OID.rsassaPss,
          identifier: rsassaPssIdentifier(hash),
          pss: true,
          bits,
        };
      }
      const dotted = RSA_OIDS[hash];
      return { keyType: 'rsa', hash, oid: dotted, identifier: sequence(oid(dotted), NULL), bits };
    }
    case 'ed25519': {
      if (hash !== 'sha512') {
        throw new Error(
          `Ed25519 keys require the SHA-512 digest (RFC 8419); set --timestamp-signer-hash=sha512, not ${hash}`,
        );
      }
      return { keyType: 'ed25519', hash, oid: OID.ed25519, identifier: sequence(oid(OID.ed25519)) };
    }
    default:
      throw new Error(
        `unsupported key type ${publicKey.asymmetricKeyType ?? 'unknown'}, must be RSA, ECDSA, or ED25519`,
      );
  }
}

/**
 * RSASSA-PSS-params with the hash, MGF1 with the same hash, saltLength = the hash length and the
 * default trailerField (RFC 4055 section 3.1; RFC 8702's profile). The hash identifiers carry
 * NULL, as RFC 4055's sha256Identifier and Go's crypto/x509 encode them.
 */
export function rsassaPssIdentifier(hash: HashName): Buffer {
  const hashIdentifier = HASHES[hash].identifierWithNull;
  return sequence(
    oid(OID.rsassaPss),
    sequence(
      tlv(contextTag(0, true), hashIdentifier),
      tlv(contextTag(1, true), sequence(oid(OID.mgf1), hashIdentifier)),
      tlv(contextTag(2, true), integer(HASHES[hash].length)),
    ),
  );
}

/** An RSA-PSS key with parameters may be restricted to one hash and a minimum salt (RFC 4055 3.1). */
function checkPssKeyParameters(publicKey: KeyObject, hash: HashName): void {
  const details = publicKey.asymmetricKeyDetails ?? {};
  const restricted = [details.hashAlgorithm, details.mgf1HashAlgorithm].filter(
    (name): name is string => name !== undefined,
  );
  const mismatch = restricted.find((name) => name.replace('-', '').toLowerCase() !== hash);
  if (mismatch) {
    throw new Error(
      `the RSA-PSS key is restricted to ${mismatch.toUpperCase()}; set --timestamp-signer-hash to it, not ${hash}`,
    );
  }
  if ((details.saltLength ?? 0) > HASHES[hash].length) {
    throw new Error(
      `the RSA-PSS key requires a salt of ${details.saltLength} bytes, more than the ${HASHES[hash].length} this TSA uses`,
    );
  }
}

/** Node's sign/verify arguments for an algorithm: the digest name (null for Ed25519) and key. */
export function nodeSignatureArguments<K extends KeyObject>(
  algorithm: SignatureAlgorithm,
  key: K,
): [string | null, K | (SignKeyObjectInput & { key: K })] {
  if (algorithm.keyType === 'ed25519') return [null, key];
  if (!algorithm.pss) return [algorithm.hash, key];
  return [
    algorithm.hash,
    {
      key,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: HASHES[algorithm.hash].length,
    },
  ];
}

/**
 * The digest conventionally paired with a key, the default token digest: SHA-384 for P-384,
 * SHA-512 for P-521 and Ed25519, an RSA-PSS key's own hash when its parameters fix one, else
 * SHA-256.
 */
export function preferredHashFor(key: KeyObject): HashName {
  if (key.asymmetricKeyType === 'ed25519') return 'sha512';
  const pssHash = key.asymmetricKeyDetails?.hashAlgorithm?.replace('-', '').toLowerCase();
  if (pssHash && pssHash in HASHES) return pssHash as HashName;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (curve === 'secp384r1') return 'sha384';
  if (curve === 'secp521r1') return 'sha512';
  return 'sha256';
}

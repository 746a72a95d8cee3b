import { constants, type KeyObject, type SignKeyObjectInput } from 'node:crypto';
import { HASHES, isHashName, rsassaPssIdentifier, type HashName } from '../asn1/algorithms.js';
import { NULL, oid, sequence } from '../asn1/der.js';
import { OID } from '../asn1/oids.js';
import { CodedError } from '../errors.js';
import type { SignatureAlgorithm } from './signer.js';

/*
 * Key → algorithm policy: which signature algorithm and default digest a key gets, and Node's
 * sign/verify arguments for it. asn1/algorithms.ts keeps only the hashes and DER identifiers.
 */

/** A key (or key and hash) this TSA cannot sign tokens with. */
export class KeyAlgorithmError extends CodedError<
  | 'UNSUPPORTED_KEY_TYPE'
  | 'UNSUPPORTED_CURVE'
  | 'UNSUPPORTED_KEY_SIZE'
  | 'HASH_NOT_ALLOWED'
  | 'SALT_TOO_LONG'
  | 'SALT_NOT_HASH_LENGTH'
> {
  override name = 'KeyAlgorithmError';
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
        throw new KeyAlgorithmError(
          'UNSUPPORTED_CURVE',
          `unsupported EC curve ${curve ?? 'unknown'}: use P-256, P-384 or P-521`,
        );
      }
      const dotted = ECDSA_OIDS[hash];
      return { keyType: 'ec', hash, oid: dotted, identifier: sequence(oid(dotted)), curve };
    }
    case 'rsa':
    case 'rsa-pss': {
      const bits = publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
      if (bits < 2048 || bits > 4096) {
        throw new KeyAlgorithmError(
          'UNSUPPORTED_KEY_SIZE',
          `unsupported RSA key size ${bits}: use 2048 to 4096 bits`,
        );
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
        throw new KeyAlgorithmError(
          'HASH_NOT_ALLOWED',
          `Ed25519 keys require the SHA-512 digest (RFC 8419); set --timestamp-signer-hash=sha512, not ${hash}`,
        );
      }
      return { keyType: 'ed25519', hash, oid: OID.ed25519, identifier: sequence(oid(OID.ed25519)) };
    }
    default:
      throw new KeyAlgorithmError(
        'UNSUPPORTED_KEY_TYPE',
        `unsupported key type ${publicKey.asymmetricKeyType ?? 'unknown'}, must be RSA, ECDSA, or ED25519`,
      );
  }
}

/**
 * An RSA-PSS key with parameters is restricted to one hash, one MGF1 hash and a salt length (RFC
 * 4055 section 3.1). This TSA signs with the token's hash for both and a salt of the hash's length;
 * a key restricted otherwise is refused. A salt of another length would be RFC 4055's minimum only,
 * but `openssl ts -verify` checks a restricted key's signatures against exactly that length, and
 * refuses tokens whose salt differs.
 */
function checkPssKeyParameters(publicKey: KeyObject, hash: HashName): void {
  const details = publicKey.asymmetricKeyDetails ?? {};
  const hashOf = (name: string) => name.replace('-', '').toLowerCase();
  const { hashAlgorithm, mgf1HashAlgorithm, saltLength } = details;
  if (hashAlgorithm !== undefined && hashOf(hashAlgorithm) !== hash) {
    throw new KeyAlgorithmError(
      'HASH_NOT_ALLOWED',
      `the RSA-PSS key is restricted to ${hashAlgorithm.toUpperCase()}; set --timestamp-signer-hash to it, not ${hash}`,
    );
  }
  const hashLength = HASHES[hash].length;
  const remake = `make the key with -pkeyopt rsa_pss_keygen_md:${hash} -pkeyopt rsa_pss_keygen_mgf1_md:${hash} -pkeyopt rsa_pss_keygen_saltlen:${hashLength}, or without PSS parameters`;
  if (mgf1HashAlgorithm !== undefined && hashOf(mgf1HashAlgorithm) !== hash) {
    throw new KeyAlgorithmError(
      'HASH_NOT_ALLOWED',
      `the RSA-PSS key's MGF1 hash is ${mgf1HashAlgorithm.toUpperCase()} (OpenSSL's default where rsa_pss_keygen_mgf1_md is not given), where this TSA uses ${hash.toUpperCase()}: ${remake}`,
    );
  }
  if (saltLength !== undefined && saltLength !== hashLength) {
    throw new KeyAlgorithmError(
      saltLength > hashLength ? 'SALT_TOO_LONG' : 'SALT_NOT_HASH_LENGTH',
      `the RSA-PSS key requires a salt of ${saltLength} bytes, where this TSA signs with ${hashLength} (the ${hash.toUpperCase()} length; openssl ts -verify checks the key's length exactly): ${remake}`,
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
  if (pssHash && isHashName(pssHash)) return pssHash;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (curve === 'secp384r1') return 'sha384';
  if (curve === 'secp521r1') return 'sha512';
  return 'sha256';
}

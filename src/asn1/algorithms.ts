import { CodedError } from '../errors.js';
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

/** A hash (or other algorithm) name this project does not support. */
export class AlgorithmError extends CodedError<'UNSUPPORTED_HASH'> {
  override name = 'AlgorithmError';
}

/** Whether `name` is one of ours; own keys only, so "constructor" or "__proto__" is not. */
export function isHashName(name: string): name is HashName {
  return Object.hasOwn(HASHES, name);
}

/** Parses a hash name as the Go flags do (case-insensitive). */
export function parseHashName(value: string): HashName {
  const name = value.toLowerCase();
  if (isHashName(name)) return name;
  throw new AlgorithmError(
    'UNSUPPORTED_HASH',
    `unsupported hash algorithm: ${value} (valid: ${HASH_NAMES.join(', ')})`,
  );
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

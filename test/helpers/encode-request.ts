import {
  boolean,
  contextTag,
  integer,
  NULL,
  octetString,
  sequence,
  Tag,
  tlv,
} from '../../src/asn1/der.js';

/** A TimeStampReq as a test writes it (independent of src/tsp/request.ts). */
export interface RequestFields {
  version: bigint;
  /** Content octets of the hash OID. */
  hashAlgorithmOid: Uint8Array;
  /** Encode the AlgorithmIdentifier's parameters as NULL (openssl does) or omit them. */
  hashParametersNull: boolean;
  /** A raw parameters TLV instead (other than NULL: refused as badAlg). */
  hashParameters?: Uint8Array;
  hashedMessage: Uint8Array;
  /** Content octets of the policy OID. */
  reqPolicy?: Uint8Array;
  nonce?: bigint;
  /** true, false (sent explicitly, as some clients do) or absent. */
  certReq?: boolean;
  extensions?: { oid: Uint8Array; critical?: boolean; value: Uint8Array }[];
  /** Already-encoded content of the extensions field (instead of `extensions`). */
  extensionsContent?: Uint8Array;
}

/**
 *   TimeStampReq ::= SEQUENCE { version INTEGER, messageImprint MessageImprint,
 *     reqPolicy TSAPolicyId OPTIONAL, nonce INTEGER OPTIONAL, certReq BOOLEAN DEFAULT FALSE,
 *     extensions [0] IMPLICIT Extensions OPTIONAL }
 */
export function encodeTimeStampReq(fields: RequestFields): Buffer {
  const algorithm = sequence(
    tlv(Tag.OID, fields.hashAlgorithmOid),
    ...(fields.hashParameters ? [fields.hashParameters] : fields.hashParametersNull ? [NULL] : []),
  );
  const parts: Uint8Array[] = [
    integer(fields.version),
    sequence(algorithm, octetString(fields.hashedMessage)),
  ];
  if (fields.reqPolicy) parts.push(tlv(Tag.OID, fields.reqPolicy));
  if (fields.nonce !== undefined) parts.push(integer(fields.nonce));
  if (fields.certReq !== undefined) parts.push(boolean(fields.certReq));
  if (fields.extensionsContent) parts.push(tlv(contextTag(0, true), fields.extensionsContent));
  else if (fields.extensions) {
    parts.push(
      tlv(
        contextTag(0, true),
        ...fields.extensions.map((extension) =>
          sequence(
            tlv(Tag.OID, extension.oid),
            ...(extension.critical === undefined ? [] : [boolean(extension.critical)]),
            octetString(extension.value),
          ),
        ),
      ),
    );
  }
  return sequence(...parts);
}

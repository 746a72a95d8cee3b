import { createHash, verify as verifySignature } from 'node:crypto';
import { HASHES, type HashAlgorithm } from '../asn1/algorithms.js';
import {
  contextTag,
  flatten,
  generalizedTime,
  Tag,
  wrap,
  type DerParts,
  integer,
  octetString,
  oid,
  sequence,
  set,
  time,
  tlv,
  unsignedInteger,
} from '../asn1/der.js';
import { OID } from '../asn1/oids.js';
import { nodeSignatureArguments } from '../crypto/key-algorithms.js';
import type { Signer } from '../crypto/signer.js';
import { CodedError } from '../errors.js';
import type { Certificate } from '../x509/certificate.js';
import { TokenProfileError } from './profile-error.js';
import type { AcceptedRequest } from './request.js';

/** What the TSA puts in every token, fixed for the life of a signer and chain. */
export interface TokenProfile {
  signer: Signer;
  /** The certificate chain, leaf first. */
  chain: readonly Certificate[];
  /** DER OID TLV used when the request has no reqPolicy. */
  defaultPolicy: Uint8Array;
  /** Accuracy declared in TSTInfo, in whole seconds. */
  accuracySeconds: number;
  /** With certReq, embed the whole chain (leaf first) rather than the leaf alone. */
  includeChain: boolean;
  /** Verify each signature with the signer's public key before the token leaves (default true). */
  verifySignatures?: boolean;
}

/** A token whose signature does not verify with the signer's public key; it is never sent. */
export class TokenSignatureError extends CodedError<'SIGNATURE_DOES_NOT_VERIFY'> {
  override name = 'TokenSignatureError';
}

/** The per-request values of a token. */
export interface TokenFields {
  request: AcceptedRequest;
  /** Unsigned big-endian serial number (at most 160 bits). */
  serialNumber: Uint8Array;
  /** genTime, truncated to whole seconds by the encoder. */
  genTime: Date;
}

/**
 * Encodes granted TimeStampResp messages. Everything that does not change between requests is
 * encoded once here (ARCHITECTURE section 4); per request only TSTInfo, messageDigest,
 * signingTime, the signature and the lengths around them are encoded.
 */
export class TokenEncoder {
  private readonly signer: Signer;
  private readonly signerHash: HashAlgorithm;
  private readonly defaultPolicy: Buffer;
  private readonly accuracy: Buffer;
  private readonly tsaName: Buffer;
  private readonly signedDataHead: Buffer;
  /** certificates [0] IMPLICIT CertificateSet, sent with certReq; never present and empty. */
  private readonly certificates: Buffer;
  private readonly signerInfoHead: Buffer;
  private readonly contentTypeAttribute: Buffer;
  private readonly signingCertificateAttribute: Buffer;
  private readonly signatureAlgorithm: Buffer;
  /** genTime has whole-second precision: its two encodings are reused within a second. */
  private timeCache: TimeEncodings = {
    ms: Number.NaN,
    genTime: EMPTY,
    signingTimeAttribute: EMPTY,
  };
  private readonly verifySignatures: boolean;
  /** Node's digest name for verification; null for Ed25519 (PureEdDSA). */
  private readonly verifyDigest: string | null;
  /** The public key, with PSS padding and salt length for RSASSA-PSS. */
  private readonly verifyKey: ReturnType<typeof nodeSignatureArguments>[1];
  private readonly verifyOffThread: boolean;

  constructor(profile: TokenProfile) {
    const leaf = profile.chain[0];
    if (!leaf)
      throw new TokenProfileError(
        'NO_LEAF_CERTIFICATE',
        'certificate chain must contain a leaf certificate',
      );
    this.signer = profile.signer;
    this.signerHash = HASHES[profile.signer.algorithm.hash];
    this.defaultPolicy = Buffer.from(profile.defaultPolicy);
    // Accuracy ::= SEQUENCE { seconds INTEGER OPTIONAL, millis [0] OPTIONAL, micros [1] OPTIONAL }
    this.accuracy = sequence(integer(profile.accuracySeconds));
    // tsa [0] EXPLICIT GeneralName: directoryName [4] EXPLICIT Name of the leaf subject.
    this.tsaName = tlv(contextTag(0, true), tlv(contextTag(4, true), leaf.subject));

    // SignedData version 3, digestAlgorithms, encapContentInfo's eContentType come before eContent.
    this.signedDataHead = Buffer.concat([integer(3), set(this.signerHash.identifier)]);
    this.certificates = profile.includeChain
      ? tlv(contextTag(0, true), ...profile.chain.map((certificate) => certificate.der))
      : tlv(contextTag(0, true), leaf.der);

    // SignerInfo version 1, sid IssuerAndSerialNumber of the leaf, digestAlgorithm.
    this.signerInfoHead = Buffer.concat([
      integer(1),
      sequence(leaf.issuer, leaf.serialNumber),
      this.signerHash.identifier,
    ]);
    this.contentTypeAttribute = sequence(oid(OID.contentType), set(oid(OID.tstInfo)));
    // SigningCertificateV2 { certs SEQUENCE OF ESSCertIDv2 { hashAlgorithm DEFAULT sha256 (omitted),
    //   certHash, issuerSerial { issuer GeneralNames, serialNumber } } } (RFC 5816, RFC 5035)
    const essCertIdV2 = sequence(
      octetString(createHash('sha256').update(leaf.der).digest()),
      sequence(sequence(tlv(contextTag(4, true), leaf.issuer)), leaf.serialNumber),
    );
    this.signingCertificateAttribute = sequence(
      oid(OID.signingCertificateV2),
      set(sequence(sequence(essCertIdV2))),
    );
    this.signatureAlgorithm = profile.signer.algorithm.identifier;
    this.verifySignatures = profile.verifySignatures ?? true;
    const { keyType, curve } = profile.signer.algorithm;
    [this.verifyDigest, this.verifyKey] = nodeSignatureArguments(
      profile.signer.algorithm,
      profile.signer.publicKey,
    );
    this.verifyOffThread = keyType === 'ec' && curve !== 'prime256v1';
  }

  /**
   * TSTInfo ::= SEQUENCE { version INTEGER { v1(1) }, policy TSAPolicyId,
   *   messageImprint MessageImprint, serialNumber INTEGER, genTime GeneralizedTime,
   *   accuracy Accuracy OPTIONAL, ordering BOOLEAN DEFAULT FALSE, nonce INTEGER OPTIONAL,
   *   tsa [0] GeneralName OPTIONAL, extensions [1] IMPLICIT Extensions OPTIONAL }
   */
  encodeTstInfo(fields: TokenFields): Buffer {
    const { request } = fields;
    const parts: (Uint8Array | DerParts)[] = [
      V1,
      request.reqPolicy ?? this.defaultPolicy,
      // The request's messageImprint byte for byte (RFC 3161 section 2.4.2); JSON has none: NULL.
      request.messageImprint ??
        wrap(
          Tag.SEQUENCE,
          request.hash.identifierWithNull,
          wrap(Tag.OCTET_STRING, request.hashedMessage),
        ),
      unsignedInteger(fields.serialNumber),
      this.timeEncodings(fields.genTime).genTime,
      this.accuracy,
    ];
    if (request.nonce) parts.push(request.nonce);
    parts.push(this.tsaName);
    if (request.extensions) parts.push(wrap(contextTag(1, true), request.extensions));
    return flatten(wrap(Tag.SEQUENCE, ...parts));
  }

  /** SET OF Attribute, DER-sorted (X.690 11.6), as signed and as embedded in SignerInfo. */
  encodeSignedAttributes(tstInfo: Uint8Array, genTime: Date): Buffer[] {
    const messageDigest = createHash(this.signerHash.name).update(tstInfo).digest();
    const attributes = [
      this.contentTypeAttribute,
      this.timeEncodings(genTime).signingTimeAttribute,
      sequence(MESSAGE_DIGEST_OID, set(octetString(messageDigest))),
      this.signingCertificateAttribute,
    ];
    return attributes.sort(Buffer.compare);
  }

  private timeEncodings(genTime: Date): TimeEncodings {
    if (genTime.getTime() !== this.timeCache.ms) {
      this.timeCache = {
        ms: genTime.getTime(),
        genTime: generalizedTime(genTime),
        signingTimeAttribute: sequence(SIGNING_TIME_OID, set(time(genTime))),
      };
    }
    return this.timeCache;
  }

  /** Builds, signs and encodes a granted TimeStampResp. */
  async encode(fields: TokenFields, signal?: AbortSignal): Promise<Buffer> {
    const tstInfo = this.encodeTstInfo(fields);
    const attributes = this.encodeSignedAttributes(tstInfo, fields.genTime);
    const signedAttributes = set(...attributes);
    const signature = await this.signer.sign(signedAttributes, signal);
    // A faulty signer (KMS bug, key/cert mismatch, bit flip) must not hand out unverifiable tokens.
    if (this.verifySignatures && !(await this.verifies(signedAttributes, signature))) {
      throw new TokenSignatureError(
        'SIGNATURE_DOES_NOT_VERIFY',
        `token signature by ${this.signer.id} does not verify with its public key`,
      );
    }
    return this.assemble(tstInfo, attributes, signature, fields.request.certReq);
  }

  /** P-384/P-521 verification (~1 ms) runs on libuv's thread pool; the others are cheap inline. */
  private verifies(data: Uint8Array, signature: Uint8Array): boolean | Promise<boolean> {
    const key = this.verifyKey;
    if (!this.verifyOffThread) return verifySignature(this.verifyDigest, data, key, signature);
    return new Promise((resolve, reject) =>
      verifySignature(this.verifyDigest, data, key, signature, (error, valid) =>
        error ? reject(error) : resolve(valid),
      ),
    );
  }

  /** The TimeStampResp around a TSTInfo and its signature. */
  assemble(
    tstInfo: Uint8Array,
    attributes: Buffer[],
    signature: Uint8Array,
    certReq: boolean,
  ): Buffer {
    const signerInfo = wrap(
      Tag.SEQUENCE,
      this.signerInfoHead,
      wrap(contextTag(0, true), ...attributes),
      this.signatureAlgorithm,
      wrap(Tag.OCTET_STRING, signature),
    );
    const encapContentInfo = wrap(
      Tag.SEQUENCE,
      TST_INFO_OID,
      wrap(contextTag(0, true), wrap(Tag.OCTET_STRING, tstInfo)),
    );
    const signedData = certReq
      ? wrap(
          Tag.SEQUENCE,
          this.signedDataHead,
          encapContentInfo,
          this.certificates,
          wrap(Tag.SET, signerInfo),
        )
      : wrap(Tag.SEQUENCE, this.signedDataHead, encapContentInfo, wrap(Tag.SET, signerInfo));
    // One copy of every piece, instead of one per nesting level.
    return flatten(
      wrap(
        Tag.SEQUENCE,
        GRANTED,
        wrap(Tag.SEQUENCE, SIGNED_DATA_OID, wrap(contextTag(0, true), signedData)),
      ),
    );
  }
}

interface TimeEncodings {
  ms: number;
  genTime: Buffer;
  signingTimeAttribute: Buffer;
}

const EMPTY: Buffer = Buffer.alloc(0);
const V1 = integer(1);
/** PKIStatusInfo { status granted(0) } */
const GRANTED = sequence(integer(0));
const TST_INFO_OID = oid(OID.tstInfo);
const SIGNED_DATA_OID = oid(OID.signedData);
const SIGNING_TIME_OID = oid(OID.signingTime);
const MESSAGE_DIGEST_OID = oid(OID.messageDigest);

import { createHash, hash as digestOf, verify as verifySignature } from 'node:crypto';
import { promisify } from 'node:util';
import { HASHES, type HashAlgorithm } from '../asn1/algorithms.js';
import {
  contextTag,
  DerWriter,
  encodingBuffer,
  generalizedTime,
  Tag,
  tlvLength,
  integer,
  integerContent,
  octetString,
  oid,
  sequence,
  set,
  time,
  tlv,
} from '../asn1/der.js';
import { OID } from '../asn1/oids.js';
import { nodeSignatureArguments } from '../crypto/key-algorithms.js';
import type { Signer } from '../crypto/signer.js';
import { CodedError } from '../errors.js';
import type { Certificate } from '../x509/certificate.js';
import { genTimeFor } from './gen-time.js';
import { TokenProfileError } from './profile-error.js';
import type { AcceptedRequest } from './request.js';

/** crypto.verify with a callback: the check runs on libuv's thread pool. */
const verifyOnThreadPool = promisify(verifySignature);

/** What the TSA puts in every token, fixed for the life of a signer and chain. */
export interface TokenProfile {
  signer: Signer;
  /** The certificate chain, leaf first. */
  chain: readonly Certificate[];
  /** DER OID TLV used when the request has no reqPolicy. */
  defaultPolicy: Uint8Array;
  /** Accuracy declared in TSTInfo, in whole seconds. */
  accuracySeconds: number;
  /** Accuracy in ms (--accuracy 250ms); replaces accuracySeconds when given. */
  accuracyMs?: number;
  /** With certReq, embed the whole chain (leaf first) rather than the leaf alone. */
  includeChain: boolean;
  /** Verify each signature with the signer's public key before the token leaves (default true). */
  verifySignatures?: boolean;
  /** State in each token that it is an EU qualified time-stamp (QUALIFIED_STATEMENT_EXTENSION). */
  qualified?: boolean;
}

/**
 * The TSTInfo extension of an EU qualified electronic time-stamp (ETSI EN 319 422 section 9.1):
 * qcStatements (RFC 3739), non-critical, holding the one statement esi4-qtstStatement-1, without
 * statementInfo. Extension ::= SEQUENCE { extnID, critical DEFAULT FALSE, extnValue OCTET STRING }.
 */
export const QUALIFIED_STATEMENT_EXTENSION: Buffer = sequence(
  oid(OID.qcStatements),
  octetString(sequence(sequence(oid(OID.esi4QtstStatement1)))),
);

/** A token whose signature does not verify with the signer's public key; it is never sent. */
export class TokenSignatureError extends CodedError<'SIGNATURE_DOES_NOT_VERIFY'> {
  override name = 'TokenSignatureError';
}

/** The per-request values of a token. */
export interface TokenFields {
  request: AcceptedRequest;
  /** Unsigned big-endian serial number (at most 160 bits). */
  serialNumber: Uint8Array;
  /** genTime, as {@link TokenEncoder.genTimeAt} gives it (whole seconds, or milliseconds). */
  genTime: Date;
  /** This token's accuracy in ms (--accuracy auto); absent: the profile's accuracySeconds. */
  accuracyMs?: number;
}

/**
 * Accuracy ::= SEQUENCE { seconds INTEGER OPTIONAL, millis [0] INTEGER (1..999) OPTIONAL,
 * micros [1] INTEGER (1..999) OPTIONAL }: whole ms, rounded up (never tighter than measured);
 * absent fields are zero (RFC 3161 section 2.4.2).
 */
export function encodeAccuracy(ms: number): Buffer {
  const total = Math.max(1, Math.ceil(ms));
  const wholeSeconds = Math.floor(total / 1000);
  const millis = total % 1000;
  return sequence(
    ...(wholeSeconds ? [integer(wholeSeconds)] : []),
    ...(millis ? [tlv(contextTag(0, false), integerContent(BigInt(millis)))] : []),
  );
}

/**
 * Encodes granted TimeStampResp messages. Everything that does not change between requests is
 * encoded once here (ARCHITECTURE section 4); per request only TSTInfo, messageDigest,
 * signingTime, the signature and the lengths around them are encoded.
 */
export class TokenEncoder {
  private readonly signer: Signer;
  private readonly signerHash: HashAlgorithm;
  /** The TSAPolicyId TLV of tokens whose request names no policy. */
  readonly defaultPolicy: Buffer;
  private readonly accuracy: Buffer;
  /** The accuracy tokens declare when no clock check gives theirs (--accuracy). */
  private readonly profileAccuracyMs: number;
  private readonly tsaName: Buffer;
  /** The extensions the TSA adds to every token, after the request's (Extension TLVs). */
  private readonly tsaExtensions: Buffer;
  private readonly signedDataHead: Buffer;
  /** certificates [0] IMPLICIT CertificateSet, sent with certReq; never present and empty. */
  private readonly certificates: Buffer;
  private readonly signerInfoHead: Buffer;
  private readonly contentTypeAttribute: Buffer;
  private readonly signingCertificateAttribute: Buffer;
  private readonly signatureAlgorithm: Buffer;
  private genTimeCache = { ms: Number.NaN, der: EMPTY };
  /** The signed attributes of genTime's second; genTime's own encoding, of its millisecond. */
  private timeCache: TimeEncodings = {
    second: Number.NaN,
    signingTimeAttribute: EMPTY,
    signedAttributes: EMPTY,
    digestOffset: 0,
  };
  /** Whether each signature is checked before the token leaves (TokenProfile.verifySignatures). */
  readonly verifySignatures: boolean;
  /** Node's digest name for verification; null for Ed25519 (PureEdDSA). */
  private readonly verifyDigest: string | null;
  /** The public key, with PSS padding and salt length for RSASSA-PSS. */
  private readonly verifyKey: ReturnType<typeof nodeSignatureArguments>[1];
  /** The check of each signature runs on libuv's thread pool (P-384, P-521: ~1 ms each). */
  private readonly checksOffThread: boolean;

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
    this.accuracy =
      profile.accuracyMs === undefined
        ? sequence(integer(profile.accuracySeconds))
        : encodeAccuracy(profile.accuracyMs);
    this.profileAccuracyMs = profile.accuracyMs ?? profile.accuracySeconds * 1000;
    // tsa [0] EXPLICIT GeneralName: directoryName [4] EXPLICIT Name of the leaf subject.
    this.tsaName = tlv(contextTag(0, true), tlv(contextTag(4, true), leaf.subject));
    this.tsaExtensions = profile.qualified ? QUALIFIED_STATEMENT_EXTENSION : EMPTY;

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
    this.checksOffThread = this.verifySignatures && keyType === 'ec' && curve !== 'prime256v1';
  }

  /**
   * TSTInfo ::= SEQUENCE { version INTEGER { v1(1) }, policy TSAPolicyId,
   *   messageImprint MessageImprint, serialNumber INTEGER, genTime GeneralizedTime,
   *   accuracy Accuracy OPTIONAL, ordering BOOLEAN DEFAULT FALSE, nonce INTEGER OPTIONAL,
   *   tsa [0] GeneralName OPTIONAL, extensions [1] IMPLICIT Extensions OPTIONAL }
   */
  encodeTstInfo(fields: TokenFields): Buffer {
    const { request, serialNumber } = fields;
    const policy = request.reqPolicy ?? this.defaultPolicy;
    // The request's messageImprint byte for byte (RFC 3161 section 2.4.2); JSON has none: NULL.
    const imprint =
      request.messageImprint ??
      sequence(request.hash.identifierWithNull, octetString(request.hashedMessage));
    const serial = serialNumber.length > 0 ? serialNumber : ZERO;
    // INTEGER from the unsigned magnitude: no leading zero octets, one sign octet if the top bit is set.
    let start = 0;
    while (start < serial.length - 1 && serial[start] === 0) start++;
    const signOctet = (serial[start] as number) & 0x80 ? 1 : 0;
    const serialContent = signOctet + serial.length - start;
    const genTime = this.genTimeEncoding(fields.genTime);
    const accuracy =
      fields.accuracyMs === undefined ? this.accuracy : this.accuracyEncoding(fields.accuracyMs);
    const { nonce, extensions } = request;
    // Extensions ::= SEQUENCE OF Extension: the request's accepted ones, then the TSA's own.
    const extensionsLength = (extensions ? extensions.length : 0) + this.tsaExtensions.length;
    const content =
      V1.length +
      policy.length +
      imprint.length +
      tlvLength(serialContent) +
      genTime.length +
      accuracy.length +
      (nonce ? nonce.length : 0) +
      this.tsaName.length +
      (extensionsLength > 0 ? tlvLength(extensionsLength) : 0);
    const out = new DerWriter(tlvLength(content))
      .header(Tag.SEQUENCE, content)
      .bytes(V1)
      .bytes(policy)
      .bytes(imprint)
      .header(Tag.INTEGER, serialContent);
    if (signOctet) out.byte(0);
    out.bytes(start > 0 ? serial.subarray(start) : serial);
    out.bytes(genTime).bytes(accuracy);
    if (nonce) out.bytes(nonce);
    out.bytes(this.tsaName);
    if (extensionsLength > 0) {
      out.header(contextTag(1, true), extensionsLength);
      if (extensions) out.bytes(extensions);
      out.bytes(this.tsaExtensions);
    }
    return out.finish();
  }

  /**
   * SET OF Attribute, DER-sorted (X.690 11.6), as signed and as embedded in SignerInfo: the
   * reference form of {@link signedAttributes} (tests and forgeries take the attributes apart).
   */
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

  private accuracyCache = { ms: Number.NaN, der: EMPTY };

  /** The last value's encoding is reused: auto accuracy changes once per clock check at most. */
  private accuracyEncoding(ms: number): Buffer {
    if (ms !== this.accuracyCache.ms) this.accuracyCache = { ms, der: encodeAccuracy(ms) };
    return this.accuracyCache.der;
  }

  /**
   * The signed attributes as one SET: the second's sorted template with the messageDigest written
   * in. The order never depends on the digest: each attribute's OID, which differs from the others',
   * comes before it.
   */
  signedAttributes(tstInfo: Uint8Array, genTime: Date): Buffer {
    const { signedAttributes: template, digestOffset } = this.timeEncodings(genTime);
    const out = encodingBuffer(template.length);
    out.set(template);
    // As a 'binary' (latin1) string, one character per octet, written in place: a Buffer result
    // would be an ArrayBuffer of its own, which cost ~1.2 µs more per token.
    out.write(digestOf(this.signerHash.name, tstInfo, 'binary'), digestOffset, 'binary');
    return out;
  }

  /**
   * The genTime of a token issued at `nowMs` that declares `accuracyMs` (a clock check's), or else
   * the profile's accuracy. Whole seconds, as the Go server and OpenSSL write it, for a fixed
   * accuracy of whole seconds (the default 1 s), rounded to the nearest (Go truncates: up to 999 ms
   * late); milliseconds for a measured accuracy (--accuracy auto) or one with a fraction of a
   * second (RFC 3161 section 2.4.2: fractions of a second MAY be included). See gen-time.ts.
   */
  genTimeAt(nowMs: number, accuracyMs?: number): Date {
    // A clock check's accuracy is measured: never whole seconds.
    return genTimeFor(nowMs, accuracyMs === undefined ? this.profileAccuracyMs : undefined);
  }

  /** genTime's GeneralizedTime, reused while genTime is the same. */
  private genTimeEncoding(genTime: Date): Buffer {
    const ms = genTime.getTime();
    if (ms !== this.genTimeCache.ms) {
      this.genTimeCache = { ms, der: generalizedTime(genTime, true) };
    }
    return this.genTimeCache.der;
  }

  /**
   * The signed attributes around genTime's second (signingTime has whole seconds), reused within
   * that second: with genTime in milliseconds, rebuilding them per millisecond would cost a sort
   * and seven Buffers a token at full load.
   */
  private timeEncodings(genTime: Date): TimeEncodings {
    const second = Math.floor(genTime.getTime() / 1000);
    if (second !== this.timeCache.second) {
      const signingTimeAttribute = sequence(SIGNING_TIME_OID, set(time(genTime)));
      const digestAttribute = sequence(
        MESSAGE_DIGEST_OID,
        set(octetString(Buffer.alloc(this.signerHash.length))),
      );
      const sorted = [
        this.contentTypeAttribute,
        signingTimeAttribute,
        digestAttribute,
        this.signingCertificateAttribute,
      ].sort(Buffer.compare);
      const signedAttributes = set(...sorted);
      let digestEnd = signedAttributes.length - sorted.reduce((sum, a) => sum + a.length, 0);
      for (const attribute of sorted) {
        digestEnd += attribute.length;
        if (attribute === digestAttribute) break;
      }
      this.timeCache = {
        second,
        signingTimeAttribute,
        signedAttributes,
        digestOffset: digestEnd - this.signerHash.length,
      };
    }
    return this.timeCache;
  }

  /**
   * Builds, signs and encodes a granted TimeStampResp. With {@link encodesNow} it returns the
   * token itself (or throws), else a promise of it.
   */
  encode(fields: TokenFields, signal?: AbortSignal): Buffer | Promise<Buffer> {
    const tstInfo = this.encodeTstInfo(fields);
    const signedAttributes = this.signedAttributes(tstInfo, fields.genTime);
    const { certReq } = fields.request;
    const { signNow } = this.signer;
    if (typeof signNow !== 'function' || this.checksOffThread)
      return this.signAndAssemble(tstInfo, signedAttributes, certReq, signal);
    const signature = signNow.call(this.signer, signedAttributes);
    if (this.verifySignatures) this.check(this.verifiesInline(signedAttributes, signature));
    return this.assembleSigned(tstInfo, signedAttributes, signature, certReq);
  }

  /**
   * Whether {@link encode} returns the token without a promise: the signer has signNow and no
   * check of the signature has to leave the event loop.
   */
  get encodesNow(): boolean {
    return typeof this.signer.signNow === 'function' && !this.checksOffThread;
  }

  private async signAndAssemble(
    tstInfo: Buffer,
    signedAttributes: Buffer,
    certReq: boolean,
    signal: AbortSignal | undefined,
  ): Promise<Buffer> {
    if (!this.verifySignatures) {
      const signature = await this.signer.sign(signedAttributes, signal);
      return this.assembleSigned(tstInfo, signedAttributes, signature, certReq);
    }
    // Checked by the signer before it counts the answer (a remote signer's breaker learns of a
    // wrong key), or here when the signer does not take the check.
    let checked = false;
    const accept = async (answer: Uint8Array) => {
      checked = true;
      this.check(await this.verifies(signedAttributes, answer));
    };
    const signature = await this.signer.sign(signedAttributes, signal, accept);
    if (!checked) await accept(signature);
    return this.assembleSigned(tstInfo, signedAttributes, signature, certReq);
  }

  /** A faulty signer (KMS bug, key/cert mismatch, bit flip) must not hand out unverifiable tokens. */
  private check(verified: boolean): void {
    if (verified) return;
    throw new TokenSignatureError(
      'SIGNATURE_DOES_NOT_VERIFY',
      `token signature by ${this.signer.id} does not verify with its public key`,
    );
  }

  /** P-384/P-521 verification (~1 ms) runs on libuv's thread pool; the others are cheap inline. */
  private verifies(data: Uint8Array, signature: Uint8Array): boolean | Promise<boolean> {
    if (!this.checksOffThread) return this.verifiesInline(data, signature);
    return verifyOnThreadPool(this.verifyDigest, data, this.verifyKey, signature);
  }

  private verifiesInline(data: Uint8Array, signature: Uint8Array): boolean {
    return verifySignature(this.verifyDigest, data, this.verifyKey, signature);
  }

  /** The TimeStampResp around a TSTInfo and its signature, from the attributes in SET order. */
  assemble(
    tstInfo: Uint8Array,
    attributes: Buffer[],
    signature: Uint8Array,
    certReq: boolean,
  ): Buffer {
    return this.assembleSigned(tstInfo, set(...attributes), signature, certReq);
  }

  /**
   * The TimeStampResp around a TSTInfo, the signed attributes (the SET that was signed) and the
   * signature, in one buffer: lengths inside out, then each piece copied once.
   *
   *   TimeStampResp { status, ContentInfo { signedData, [0] SignedData { version, digestAlgorithms,
   *     encapContentInfo { tstInfo, [0] OCTET STRING }, [0] certificates?, SET { SignerInfo {
   *     version, sid, digestAlgorithm, [0] signedAttrs, signatureAlgorithm, signature } } } } }
   */
  private assembleSigned(
    tstInfo: Uint8Array,
    signedAttributes: Uint8Array,
    signature: Uint8Array,
    certReq: boolean,
  ): Buffer {
    const signerInfo =
      this.signerInfoHead.length +
      signedAttributes.length +
      this.signatureAlgorithm.length +
      tlvLength(signature.length);
    const signerInfos = tlvLength(signerInfo);
    const eContent = tlvLength(tstInfo.length);
    const encapContentInfo = TST_INFO_OID.length + tlvLength(eContent);
    const signedData =
      this.signedDataHead.length +
      tlvLength(encapContentInfo) +
      (certReq ? this.certificates.length : 0) +
      tlvLength(signerInfos);
    const contentInfo = SIGNED_DATA_OID.length + tlvLength(tlvLength(signedData));
    const response = GRANTED.length + tlvLength(contentInfo);
    const out = new DerWriter(tlvLength(response))
      .header(Tag.SEQUENCE, response)
      .bytes(GRANTED)
      .header(Tag.SEQUENCE, contentInfo)
      .bytes(SIGNED_DATA_OID)
      .header(contextTag(0, true), tlvLength(signedData))
      .header(Tag.SEQUENCE, signedData)
      .bytes(this.signedDataHead)
      .header(Tag.SEQUENCE, encapContentInfo)
      .bytes(TST_INFO_OID)
      .header(contextTag(0, true), eContent)
      .header(Tag.OCTET_STRING, tstInfo.length)
      .bytes(tstInfo);
    if (certReq) out.bytes(this.certificates);
    return out
      .header(Tag.SET, signerInfos)
      .header(Tag.SEQUENCE, signerInfo)
      .bytes(this.signerInfoHead)
      .retagged(contextTag(0, true), signedAttributes)
      .bytes(this.signatureAlgorithm)
      .header(Tag.OCTET_STRING, signature.length)
      .bytes(signature)
      .finish();
  }
}

interface TimeEncodings {
  /** genTime's whole second (ms since the epoch / 1000). */
  second: number;
  signingTimeAttribute: Buffer;
  /** The sorted SET of signed attributes with a zero messageDigest at digestOffset. */
  signedAttributes: Buffer;
  digestOffset: number;
}

const EMPTY: Buffer = Buffer.alloc(0);
const V1 = integer(1);
const ZERO = Uint8Array.of(0);
/** PKIStatusInfo { status granted(0) } */
const GRANTED = sequence(integer(0));
const TST_INFO_OID = oid(OID.tstInfo);
const SIGNED_DATA_OID = oid(OID.signedData);
const SIGNING_TIME_OID = oid(OID.signingTime);
const MESSAGE_DIGEST_OID = oid(OID.messageDigest);

import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { VerificationError } from './errors.js';
import { viewCertificate } from './certificate-view.js';
import {
  attributeName,
  describeAttribute,
  failInfoText,
  generalNameText,
  signerIdentifierText,
} from './describe.js';
import {
  context,
  contextConstructed,
  derProblem,
  integerProblem,
  shapeProblem,
  universal,
  type Field,
  type Opaque,
} from './der.js';
import {
  CONTEXT,
  integerValue,
  oidText,
  readNode,
  timeValue,
  UNIVERSAL,
  type DerNode,
} from './der-node.js';
import { digestByOid, VERIFY_OID, type DigestName } from './oids.js';
import { RecentByBytes } from './recent.js';
import type { SignedAttribute, Timestamp } from './timestamp.js';

/** One attribute of a SignerInfo (RFC 5652 section 5.3): its type and values, as DER. */
export interface AttributeNode {
  type: string;
  values: DerNode[];
}

/** The SignerInfo fields signature verification reads, as DER. */
export interface SignerInfoFields {
  /** The sid: IssuerAndSerialNumber, or a subjectKeyIdentifier [0]. */
  sid: { issuerDer: Buffer; serialNumber: bigint } | { keyIdentifier: Buffer };
  /** The signatureAlgorithm AlgorithmIdentifier TLV (its parameters, for RSASSA-PSS). */
  signatureAlgorithmDer: Buffer;
  /** The signedAttrs, in order; undefined when absent. */
  signedAttributes: AttributeNode[] | undefined;
}

/** A parsed token with the CMS pieces signature verification needs. */
export interface ParsedToken {
  timestamp: Timestamp;
  signerInfo: SignerInfoFields;
  /** DER of the signed attributes as signed: a SET OF Attribute (tag 0x31). */
  signedAttributesDer: Buffer | undefined;
  signature: Buffer;
}

const parseFailure = (message: string) =>
  new VerificationError('malformed', `error parsing response into Timestamp: ${message}`);
const invalid = (message: string) =>
  new VerificationError('malformed', `timestamp response is not valid: ${message}`);

/**
 * Exactly one DER value: other byte strings must not verify as the same token (trailing bytes,
 * BER's non-minimal lengths, padded INTEGERs ...). `opaque` values are left unwalked (embedded
 * certificates, hashed as received).
 */
function decodeExactly(bytes: Uint8Array, what: string, opaque?: Opaque): DerNode {
  // A copy: what is read from it (the values a ParsedToken holds) stays as parsed, whatever the
  // caller does with its bytes afterwards.
  const buffer = Buffer.from(bytes);
  let decoded: DerNode;
  try {
    decoded = readNode(buffer);
  } catch (error) {
    throw parseFailure(`${what} is not valid ASN.1: ${(error as Error).message}`);
  }
  if (decoded.der.length !== buffer.length) throw parseFailure(`trailing data after the ${what}`);
  const problem = derProblem(buffer, opaque);
  if (problem) throw parseFailure(`the ${what} is not DER: ${problem}`);
  return decoded;
}

/** Refuses a SEQUENCE whose elements break its schema, extra trailing ones included. */
function requireShape(
  value: DerNode | undefined,
  fields: readonly Field[],
  what: string,
  tagged?: (element: DerNode) => boolean,
) {
  const problem = shapeProblem(value, fields, what, tagged);
  if (problem) throw invalid(problem);
}

const SEQUENCE = universal(16);
const SET = universal(17);
const INTEGER = universal(2);
const OID = universal(6);
const OCTET_STRING = universal(4);
const BOOLEAN = universal(1);

/** RFC 3161 section 2.4.2 TimeStampResp and PKIStatusInfo (RFC 4210). */
const TIME_STAMP_RESP: Field[] = [
  { name: 'status', is: SEQUENCE },
  { name: 'timeStampToken', is: SEQUENCE, optional: true },
];
const PKI_STATUS_INFO: Field[] = [
  { name: 'status', is: INTEGER },
  { name: 'statusString', is: SEQUENCE, optional: true },
  { name: 'failInfo', is: universal(3), optional: true },
];
/** RFC 5652 sections 3, 5.1, 5.2 and 5.3. */
const CONTENT_INFO: Field[] = [
  { name: 'contentType', is: OID },
  { name: 'content', is: contextConstructed(0) },
];
const SIGNED_DATA: Field[] = [
  { name: 'version', is: INTEGER },
  { name: 'digestAlgorithms', is: SET },
  { name: 'encapContentInfo', is: SEQUENCE },
  { name: 'certificates', is: contextConstructed(0), optional: true },
  { name: 'crls', is: contextConstructed(1), optional: true },
  { name: 'signerInfos', is: SET },
];
const ENCAPSULATED_CONTENT_INFO: Field[] = [
  { name: 'eContentType', is: OID },
  { name: 'eContent', is: contextConstructed(0), optional: true },
];
const SIGNER_INFO: Field[] = [
  { name: 'version', is: INTEGER },
  { name: 'sid', is: (element) => SEQUENCE(element) || context(0)(element) },
  { name: 'digestAlgorithm', is: SEQUENCE },
  { name: 'signedAttrs', is: contextConstructed(0), optional: true },
  { name: 'signatureAlgorithm', is: SEQUENCE },
  { name: 'signature', is: OCTET_STRING },
  { name: 'unsignedAttrs', is: contextConstructed(1), optional: true },
];
/** RFC 5280 section 4.1.1.2, RFC 5652 section 5.3, RFC 5280 section 4.1.2.9. */
const ALGORITHM_IDENTIFIER: Field[] = [
  { name: 'algorithm', is: OID },
  { name: 'parameters', is: () => true, optional: true },
];
const ISSUER_AND_SERIAL_NUMBER: Field[] = [
  { name: 'issuer', is: SEQUENCE },
  { name: 'serialNumber', is: INTEGER },
];
const ATTRIBUTE: Field[] = [
  { name: 'attrType', is: OID },
  { name: 'attrValues', is: SET },
];
const EXTENSION: Field[] = [
  { name: 'extnID', is: OID },
  { name: 'critical', is: BOOLEAN, optional: true },
  { name: 'extnValue', is: OCTET_STRING },
];
/** RFC 5280 section 5.1 CertificateList, and RFC 5652 section 10.2.1 OtherRevocationInfoFormat. */
const CERTIFICATE_LIST: Field[] = [
  { name: 'tbsCertList', is: SEQUENCE },
  { name: 'signatureAlgorithm', is: SEQUENCE },
  { name: 'signatureValue', is: universal(3) },
];
const OTHER_REVOCATION_INFO_FORMAT: Field[] = [
  { name: 'otherRevInfoFormat', is: OID },
  { name: 'otherRevInfo', is: () => true },
];
/** RFC 3161 section 2.4.2 TSTInfo, MessageImprint and Accuracy. */
const TST_INFO: Field[] = [
  { name: 'version', is: INTEGER },
  { name: 'policy', is: OID },
  { name: 'messageImprint', is: SEQUENCE },
  { name: 'serialNumber', is: INTEGER },
  { name: 'genTime', is: universal(24) },
  { name: 'accuracy', is: SEQUENCE, optional: true },
  { name: 'ordering', is: BOOLEAN, optional: true },
  { name: 'nonce', is: INTEGER, optional: true },
  { name: 'tsa', is: contextConstructed(0), optional: true },
  { name: 'extensions', is: contextConstructed(1), optional: true },
];
const MESSAGE_IMPRINT: Field[] = [
  { name: 'hashAlgorithm', is: SEQUENCE },
  { name: 'hashedMessage', is: OCTET_STRING },
];
const ACCURACY: Field[] = [
  { name: 'seconds', is: INTEGER, optional: true },
  { name: 'millis', is: context(0), optional: true },
  { name: 'micros', is: context(1), optional: true },
];

/** The OBJECT IDENTIFIER a shape check placed, as dotted text. */
const oidOf = (node: DerNode | undefined): string => oidText(node?.content ?? Buffer.alloc(0));
/** The INTEGER a shape check placed. */
const integerOf = (node: DerNode | undefined): bigint =>
  integerValue(node?.content ?? Buffer.alloc(0));
/** The OCTET STRING a shape check placed: primitive (DER has no constructed strings). */
const octetsOf = (node: DerNode | undefined): Buffer => node?.content ?? Buffer.alloc(0);

/** An AlgorithmIdentifier's OID, after its shape. */
function algorithmOid(node: DerNode | undefined, what: string): string {
  requireShape(node, ALGORITHM_IDENTIFIER, what);
  return oidOf(node?.children[0]);
}

/**
 * Accuracy's shape, and its millis [0] and micros [1] as DER INTEGERs: implicitly tagged, so the
 * DER walk cannot tell they are INTEGERs (Go's encoding/asn1 refuses them padded too).
 */
function readAccuracy(accuracy: DerNode): Timestamp['accuracy'] {
  requireShape(accuracy, ACCURACY, 'Accuracy');
  const read = { seconds: 0, millis: 0, micros: 0 };
  for (const element of accuracy.children) {
    if (element.tagClass !== CONTEXT) {
      const seconds = integerOf(element);
      // A negative or unbounded accuracy would turn the interval it bounds inside out.
      if (seconds < 0n || seconds > BigInt(Number.MAX_SAFE_INTEGER))
        throw invalid(`the Accuracy's seconds (${seconds}) is out of range`);
      read.seconds = Number(seconds);
      continue;
    }
    const name = element.tagNumber === 0 ? 'millis' : 'micros';
    const problem = element.constructed ? 'constructed' : integerProblem(element.content);
    if (problem) throw invalid(`the Accuracy's ${name} is not a DER INTEGER: ${problem}`);
    const value = integerOf(element);
    // RFC 3161 section 2.4.2: millis and micros are INTEGER (1..999), as Bouncy Castle enforces.
    if (value < 1n || value > 999n)
      throw invalid(`the Accuracy's ${name} (${value}) is outside 1..999 (RFC 3161 section 2.4.2)`);
    read[name] = Number(value);
  }
  return read;
}

/**
 * The SignedData versions accepted: the one RFC 5652 section 5.1 sets, from the CertificateChoices
 * and RevocationInfoChoices present (5 with an other format, [3] certificate or [1] CRL; else 4
 * with a v2 attribute certificate [2]; else 3, the eContentType, TSTInfo, not being id-data); and
 * in place of 3, version 1, which Go's TSA writes (digitorus/pkcs7 always does): its tokens verify.
 */
function signedDataVersions(signedDataElements: readonly DerNode[]): bigint[] {
  const setOf = (tagNumber: number) =>
    signedDataElements.find((element) => context(tagNumber)(element))?.children ?? [];
  const certificates = setOf(0);
  if (certificates.some(context(3)) || setOf(1).some(context(1))) return [5n];
  return certificates.some(context(2)) ? [4n] : [3n, 1n];
}

/**
 * The version fields are outside the signature: a value other than those accepted would be one
 * more encoding of the same token.
 */
function requireVersion(
  version: DerNode | undefined,
  accepted: readonly bigint[],
  what: string,
): void {
  const value = version && INTEGER(version) ? integerOf(version) : undefined;
  if (value === undefined || !accepted.includes(value)) {
    throw invalid(`the ${what} version is ${value ?? 'missing'}, not ${accepted.join(' or ')}`);
  }
}

/** The token inside a TimeStampResp: checked on its own by parseTimestampToken. */
const RESPONSE_OPAQUE: Opaque = (path) => path.length === 2 && path[1] === 1;
/** ContentInfo > [0] > SignedData > certificates [0] or crls [1]: as received (X.509 is not ours to judge). */
const TOKEN_OPAQUE: Opaque = (path, tag) =>
  path.length === 4 && path[1] === 1 && (tag === 0xa0 || tag === 0xa1);

/**
 * Parses a TimeStampResp (RFC 3161 section 2.4.2). Only a granted response with one SignedData
 * over a version 1 TSTInfo and exactly one SignerInfo is a token. No signature or chain check
 * happens here (see verifyTimestampResponse).
 */
export function parseTimestampResponse(tsr: Uint8Array): ParsedToken {
  const decoded = decodeExactly(tsr, 'response', RESPONSE_OPAQUE);
  requireShape(decoded, TIME_STAMP_RESP, 'TimeStampResp');
  const [statusInfo, token] = decoded.children as [DerNode, DerNode | undefined];
  requireShape(statusInfo, PKI_STATUS_INFO, 'PKIStatusInfo');
  const [statusNode, ...rest] = statusInfo.children as [DerNode, ...DerNode[]];
  const status = integerOf(statusNode);
  // PKIFreeText ::= SEQUENCE SIZE (1..MAX) OF UTF8String (RFC 4210 section 5.1.1).
  const texts = rest.find(SEQUENCE)?.children ?? [];
  if (texts.some((text) => !text.is(UNIVERSAL, 12) || text.constructed))
    throw parseFailure('not a TimeStampResp: its statusString is not a SEQUENCE OF UTF8String');
  if (status !== 0n) {
    const failInfo = rest.find(universal(3));
    const said = shortened(texts.map((text) => text.content.toString('utf8')).join('; '));
    const reason = `${said ? `: ${said}` : ''} (${failInfoText(failInfo?.content.subarray(1))})`;
    // A hostile status of 200 KB is not printed: one past a byte is only named so.
    const named =
      PKI_STATUS_NAMES[Number(status)] ??
      (status >= -255n && status <= 255n ? status : 'past any PKIStatus');
    throw new VerificationError(
      'not-granted',
      status === 1n
        ? 'the response status is grantedWithMods: only granted tokens are accepted'
        : status === 2n
          ? `the request is rejected${reason}`
          : `the response status is ${named}, not granted${reason}`,
    );
  }
  if (!token) throw invalid('the granted response carries no timeStampToken');
  return parseTimestampToken(token.der, 0);
}

/** The most of a response's statusString an error quotes: a TSA's own are a line. */
const MAX_STATUS_TEXT = 1000;

/** `text` cut to MAX_STATUS_TEXT, never between the two halves of a surrogate pair. */
const shortened = (text: string): string => {
  if (text.length <= MAX_STATUS_TEXT) return text;
  const end = /[\ud800-\udbff]/.test(text.charAt(MAX_STATUS_TEXT - 1))
    ? MAX_STATUS_TEXT - 1
    : MAX_STATUS_TEXT;
  return `${text.slice(0, end)}…`;
};

/** PKIStatus (RFC 3161 section 2.4.2) past rejection (2), by value; RFC 3161 defines up to 5. */
const PKI_STATUS_NAMES: Readonly<Record<number, string>> = {
  3: 'waiting (3)',
  4: 'revocationWarning (4)',
  5: 'revocationNotification (5)',
};

/** Parses a TimeStampToken (a CMS ContentInfo), e.g. one carried in a sigstore bundle. */
export function parseTimestampToken(token: Uint8Array, status = 0): ParsedToken {
  try {
    return readToken(token, status);
  } catch (error) {
    // A structure that decodes but holds what its type cannot (an OID cut short ...).
    if (error instanceof VerificationError) throw error;
    throw invalid(error instanceof Error ? error.message : String(error));
  }
}

function readToken(token: Uint8Array, status: number): ParsedToken {
  const decoded = decodeExactly(token, 'token', TOKEN_OPAQUE);
  requireShape(decoded, CONTENT_INFO, 'ContentInfo');
  const [contentType, content] = decoded.children as [DerNode, DerNode];
  if (content.children.length !== 1) throw invalid('the ContentInfo content is not one value');
  const signedDataValue = content.children[0];
  requireShape(signedDataValue, SIGNED_DATA, 'SignedData');
  const signedDataElements = signedDataValue!.children;
  const encapsulatedValue = signedDataElements[2];
  requireShape(encapsulatedValue, ENCAPSULATED_CONTENT_INFO, 'EncapsulatedContentInfo');
  const [eContentType, eContent] = encapsulatedValue!.children as [DerNode, DerNode | undefined];
  if (eContent && eContent.children.length !== 1)
    throw invalid('the eContent is not one OCTET STRING');
  requireVersion(signedDataElements[0], signedDataVersions(signedDataElements), 'SignedData');
  const signerInfoValues = signedDataElements[signedDataElements.length - 1]!.children;
  for (const signerInfoValue of signerInfoValues) {
    requireShape(signerInfoValue, SIGNER_INFO, 'SignerInfo');
    // RFC 5652 section 5.3: 1 with an issuerAndSerialNumber sid, 3 with a subjectKeyIdentifier.
    const [version, sid] = signerInfoValue.children;
    requireVersion(version, [sid && SEQUENCE(sid) ? 1n : 3n], 'SignerInfo');
  }
  const contentTypeOid = oidOf(contentType);
  if (contentTypeOid !== VERIFY_OID.signedData) {
    throw invalid(`token content type is ${contentTypeOid}, not SignedData`);
  }
  for (const algorithm of signedDataElements[1]!.children)
    algorithmOid(algorithm, 'SignedData digestAlgorithm');
  const certificates = signedDataElements.find(context(0));
  const crls = signedDataElements.find(context(1));
  readRevocationInfo(crls);
  const signerInfos = signerInfoValues.map(readSignerInfo);
  const eContentTypeOid = oidOf(eContentType);
  if (eContentTypeOid !== VERIFY_OID.tstInfo) {
    throw invalid(`encapsulated content type is ${eContentTypeOid}, not TSTInfo`);
  }
  const octets = eContent?.children[0];
  if (!octets || !OCTET_STRING(octets)) throw invalid('the SignedData carries no TSTInfo');
  const tstInfoDer = Buffer.from(octets.content);
  const tstInfo = readTstInfo(decodeExactly(tstInfoDer, 'TSTInfo'));
  if (signerInfos.length !== 1) {
    throw invalid(`the SignedData has ${signerInfos.length} signers, expected exactly one`);
  }
  const signerInfo = signerInfos[0]!;

  const hashAlgorithm = digestByOid(tstInfo.hashAlgorithmOid);
  if (!hashAlgorithm)
    throw invalid(`unknown hash algorithm ${tstInfo.hashAlgorithmOid} in the message imprint`);
  const digestAlgorithm = digestByOid(signerInfo.digestAlgorithmOid);
  if (!digestAlgorithm)
    throw invalid(`unknown SignerInfo digest algorithm ${signerInfo.digestAlgorithmOid}`);

  const embedded = (certificates?.children ?? []).map((certificate) => {
    if (!SEQUENCE(certificate)) throw invalid('the SignedData embeds a non-X.509 certificate');
    return fromParts(() => viewCertificate(certificate.der), 'embedded certificate');
  });

  const { fields } = signerInfo;
  const signingTimeValue = fields.signedAttributes?.find(
    ({ type }) => type === VERIFY_OID.signingTime,
  )?.values[0];
  const timestamp: Timestamp = {
    status,
    version: tstInfo.version,
    policy: tstInfo.policy,
    hashAlgorithm,
    hashAlgorithmOid: tstInfo.hashAlgorithmOid,
    hashedMessage: tstInfo.hashedMessage,
    serialNumber: tstInfo.serialNumber,
    genTime: tstInfo.genTime,
    accuracy: tstInfo.accuracy,
    ordering: tstInfo.ordering,
    nonce: tstInfo.nonce,
    tsaName: tstInfo.tsaName?.text,
    tsaNameDer: tstInfo.tsaName?.directoryNameDer,
    tsaGeneralNameDer: tstInfo.tsaName?.der,
    extensions: tstInfo.extensions,
    certificates: embedded,
    signer: {
      identifier: signerInfo.sidText,
      digestAlgorithm,
      signatureAlgorithmOid: signerInfo.signatureAlgorithmOid,
      signedAttributes: [],
      signingTime: signingTimeValue && timeValue(signingTimeValue),
    },
    tstInfoDer,
    tokenDer: Buffer.from(token),
  };
  // The signed attributes' readings for people (inspect) go through PKI.js, when asked for.
  lazily(timestamp.signer, 'signedAttributes', () =>
    (fields.signedAttributes ?? []).map((attribute) => describeSigned(attribute)),
  );
  return {
    timestamp,
    signerInfo: fields,
    signedAttributesDer: signerInfo.signedAttributesDer,
    signature: signerInfo.signature,
  };
}

/**
 * Defines `key` of `target` as computed on first read, then kept: an enumerable property, so that
 * spreading or comparing the object reads it as any other.
 */
function lazily<T extends object, K extends keyof T>(target: T, key: K, compute: () => T[K]): void {
  let value: { of: T[K] } | undefined;
  Object.defineProperty(target, key, {
    enumerable: true,
    configurable: true,
    get: () => (value ??= { of: compute() }).of,
    set: (of: T[K]) => {
      value = { of };
    },
  });
}

/** An asn1js tree of DER bytes the reader has already checked. */
function asn1Value(der: Buffer): asn1js.AsnType {
  return asn1js.fromBER(der).result;
}

/**
 * What PKI.js made of the values seen last, by their kind and DER: a function of those alone, and
 * every token of a TSA has the same sid and tsa name, whose Names PKI.js reads in several times a
 * token's signature check. Bounded: the oldest goes first.
 */
const recentReadings = new RecentByBytes<unknown>(32);

function remembered<T>(kind: string, der: Buffer, read: () => T): T {
  return recentReadings.get(der, read, kind) as T;
}

/**
 * The SignerInfo sid (an IssuerAndSerialNumber, or a [0] subjectKeyIdentifier) as PKI.js reads it,
 * the issuer Name's RDNs included, and its text; what PKI.js throws is a malformed SignedData.
 */
function readSid(der: Buffer): { sid: SignerInfoFields['sid']; text: string } {
  type Read = { sid: SignerInfoFields['sid']; text: string };
  const read = remembered('sid', der, () =>
    fromParts((): Read => {
      const value = asn1Value(der);
      if (!(value instanceof asn1js.Sequence)) {
        const keyIdentifier = Buffer.from((value as asn1js.Primitive).valueBlock.valueHexView);
        return {
          sid: { keyIdentifier },
          text: signerIdentifierText(new pkijs.SignerInfo({ sid: value })),
        };
      }
      const sid = new pkijs.IssuerAndSerialNumber({ schema: value });
      return {
        sid: {
          issuerDer: Buffer.from(sid.issuer.valueBeforeDecode),
          serialNumber: sid.serialNumber.toBigInt(),
        },
        text: signerIdentifierText(new pkijs.SignerInfo({ sid })),
      };
    }, 'not a SignedData'),
  );
  // Each caller gets its own copy of the bytes.
  const { sid } = read;
  return {
    sid:
      'issuerDer' in sid
        ? { issuerDer: Buffer.from(sid.issuerDer), serialNumber: sid.serialNumber }
        : { keyIdentifier: Buffer.from(sid.keyIdentifier) },
    text: read.text,
  };
}

/**
 * The TSTInfo tsa GeneralName as PKI.js reads it: its text, and the Name's DER when it is a
 * directoryName; what PKI.js throws is a malformed TSTInfo.
 */
function readTsaName(der: Buffer): { text: string; directoryNameDer: Buffer | undefined } {
  const read = remembered('tsa', der, () =>
    fromParts(() => {
      const name = new pkijs.GeneralName({ schema: asn1Value(der) });
      return {
        text: generalNameText(name),
        directoryNameDer:
          name.type === 4 && name.value instanceof pkijs.RelativeDistinguishedNames
            ? Buffer.from(name.value.valueBeforeDecode)
            : undefined,
      };
    }, 'not a TSTInfo'),
  );
  return { ...read, directoryNameDer: read.directoryNameDer && Buffer.from(read.directoryNameDer) };
}

function describeSigned(attribute: AttributeNode): SignedAttribute {
  const valuesHex = attribute.values.map((value) => value.der.toString('hex'));
  let description: string;
  try {
    description = describeAttribute(
      new pkijs.Attribute({
        type: attribute.type,
        values: attribute.values.map((value) => asn1Value(value.der)),
      }),
    );
  } catch {
    // A value of a type asn1js cannot encode again (TIME, DATE ...): shown as its DER, as any
    // value describeAttribute does not read.
    description = valuesHex.join(', ');
  }
  return { oid: attribute.type, name: attributeName(attribute.type), valuesHex, description };
}

function fromParts<T>(build: () => T, what: string): T {
  try {
    return build();
  } catch (error) {
    if (error instanceof VerificationError) throw error;
    throw parseFailure(`${what}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * The crls [1] RevocationInfoChoices, each read by PKI.js as before (a CertificateList, or a [1]
 * OtherRevocationInfoFormat): nothing here uses them, but a token's CRLs are not taken unread.
 * Kept by their DER, as every token of a TSA that adds CRLs carries the same ones.
 */
function readRevocationInfo(crls: DerNode | undefined): void {
  for (const crl of crls?.children ?? []) {
    if (SEQUENCE(crl)) requireShape(crl, CERTIFICATE_LIST, 'CertificateList');
    else if (contextConstructed(1)(crl))
      requireShape(
        crl,
        OTHER_REVOCATION_INFO_FORMAT,
        'OtherRevocationInfoFormat',
        contextConstructed(1),
      );
    else throw invalid('the SignedData crls hold neither a CertificateList nor an other format');
    remembered('crl', crl.der, () =>
      fromParts(() => {
        const value = asn1Value(crl.der);
        if (SEQUENCE(crl)) return new pkijs.CertificateRevocationList({ schema: value });
        // As PKI.js reads it: the [1] as a SEQUENCE, in place.
        value.idBlock.tagClass = 1;
        value.idBlock.tagNumber = 16;
        return new pkijs.OtherRevocationInfoFormat({ schema: value });
      }, 'not a SignedData'),
    );
  }
}

/** The SignerInfo parts verification reads, its shape already checked (SIGNER_INFO). */
function readSignerInfo(value: DerNode) {
  const elements = value.children;
  const [, sidNode, digestAlgorithm] = elements as [DerNode, DerNode, DerNode];
  if (SEQUENCE(sidNode)) requireShape(sidNode, ISSUER_AND_SERIAL_NUMBER, 'IssuerAndSerialNumber');
  else if (sidNode.constructed) throw invalid('the SignerInfo subjectKeyIdentifier is constructed');
  const { sid, text: sidText } = readSid(sidNode.der);
  const signedAttrs = elements.find((element, index) => index === 3 && context(0)(element));
  const unsignedAttrs = elements.find(context(1));
  const signatureAlgorithm = elements[signedAttrs ? 4 : 3]!;
  const signature = elements[signedAttrs ? 5 : 4]!;
  const attributes = (set: DerNode | undefined, what: string) =>
    set?.children.map((attribute) => {
      requireShape(attribute, ATTRIBUTE, what);
      const [type, values] = attribute.children as [DerNode, DerNode];
      return { type: oidOf(type), values: values.children };
    });
  attributes(unsignedAttrs, 'unsigned Attribute');
  return {
    sidText,
    digestAlgorithmOid: algorithmOid(digestAlgorithm, 'SignerInfo digestAlgorithm'),
    signatureAlgorithmOid: algorithmOid(signatureAlgorithm, 'SignerInfo signatureAlgorithm'),
    fields: {
      sid,
      signatureAlgorithmDer: signatureAlgorithm.der,
      signedAttributes: attributes(signedAttrs, 'signed Attribute'),
    } satisfies SignerInfoFields,
    // The [0] IMPLICIT SET is signed as a SET (RFC 5652 section 5.4): the same bytes, tag 0x31.
    signedAttributesDer: signedAttrs
      ? Buffer.concat([Buffer.of(0x31), signedAttrs.der.subarray(1)])
      : undefined,
    signature: Buffer.from(signature.content),
  };
}

/** The TSTInfo's fields, its shapes checked against RFC 3161's definitions. */
function readTstInfo(value: DerNode) {
  requireShape(value, TST_INFO, 'TSTInfo');
  const elements = value.children;
  const [version, policy, messageImprint, serialNumber, genTime] = elements as [
    DerNode,
    DerNode,
    DerNode,
    DerNode,
    DerNode,
  ];
  requireShape(messageImprint, MESSAGE_IMPRINT, 'MessageImprint');
  const [hashAlgorithm, hashedMessage] = messageImprint.children as [DerNode, DerNode];
  const optional = elements.slice(5);
  const accuracy = optional.find(SEQUENCE);
  const ordering = optional.find(BOOLEAN);
  const nonce = optional.find(INTEGER);
  const tsa = optional.find(context(0));
  const extensions = optional.find(context(1));
  const versionValue = integerOf(version);
  if (versionValue !== 1n) throw invalid(`TSTInfo version is ${versionValue}, expected 1`);
  // tsa [0] EXPLICIT GeneralName: one value.
  if (tsa && (!tsa.constructed || tsa.children.length !== 1))
    throw invalid('the TSTInfo tsa is not one GeneralName');
  const tsaName = tsa && {
    ...readTsaName(tsa.children[0]!.der),
    der: Buffer.from(tsa.children[0]!.der),
  };
  const genTimeValue = timeValue(genTime);
  if (!genTimeValue) throw invalid('the TSTInfo genTime is not a GeneralizedTime');
  return {
    version: Number(versionValue),
    policy: oidOf(policy),
    hashAlgorithmOid: algorithmOid(hashAlgorithm, 'MessageImprint hashAlgorithm'),
    hashedMessage: Buffer.from(octetsOf(hashedMessage)),
    serialNumber: integerOf(serialNumber),
    genTime: genTimeValue,
    accuracy: accuracy ? readAccuracy(accuracy) : undefined,
    ordering: ordering ? ordering.content[0] !== 0 : false,
    nonce: nonce ? integerOf(nonce) : undefined,
    tsaName,
    extensions: (extensions?.children ?? []).map((extension) => {
      requireShape(extension, EXTENSION, 'Extension');
      const [extnID, second, third] = extension.children as [DerNode, DerNode, DerNode?];
      return {
        oid: oidOf(extnID),
        critical: third ? second.content[0] !== 0 : false,
        valueHex: octetsOf(third ?? second).toString('hex'),
      };
    }),
  };
}

export type { DigestName };

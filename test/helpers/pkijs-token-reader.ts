/**
 * The token reader as it was before src/verify read tokens itself: asn1js decodes the token and
 * PKI.js builds its objects (ContentInfo, SignedData, TSTInfo, SignerInfo). Kept as the oracle of
 * the differential test (test/unit/verify/token-reader-oracle.test.ts): the reader in
 * src/verify/parse-response.ts must accept exactly the tokens this one accepts, and read them alike.
 * Copied from src/verify/parse-response.ts and src/verify/signed-data.ts at c160aad, with only the
 * response parsing left out and the imports redirected, and one fix (accuracyOf): PKI.js read an
 * Accuracy value of four octets or more as 0, which the new reader does not.
 */
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { VerificationError } from '../../src/verify/errors.js';
import { viewCertificate } from '../../src/verify/certificate-view.js';
import {
  attributeName,
  describeAttribute,
  generalNameText,
  signerIdentifierText,
} from '../../src/verify/describe.js';
import { derProblem, integerProblem, type Opaque } from '../../src/verify/der.js';
import { digestByOid, VERIFY_OID } from '../../src/verify/oids.js';
import type { SignedAttribute, Timestamp } from '../../src/verify/timestamp.js';

/** One element of a SEQUENCE's schema: a predicate on its tag, and whether it may be absent. */
interface Field {
  name: string;
  is: (element: asn1js.AsnType) => boolean;
  optional?: boolean;
}

const tagged = (tagClass: number, tagNumber: number) => (element: asn1js.AsnType) =>
  element.idBlock.tagClass === tagClass && element.idBlock.tagNumber === tagNumber;
/** A universal type by tag number (16 SEQUENCE, 17 SET, 2 INTEGER ...). */
const universal = (tagNumber: number) => tagged(1, tagNumber);
/** A context-specific [n] element. */
const context = (tagNumber: number) => tagged(3, tagNumber);

/**
 * Why the elements of `value` do not follow `fields` in order, optional ones possibly absent, and
 * nothing after (no extension marker in these schemas): undefined when they do.
 */
function shapeProblem(
  value: asn1js.AsnType | undefined,
  fields: readonly Field[],
  what: string,
): string | undefined {
  if (!(value instanceof asn1js.Constructed)) return `the ${what} is not a SEQUENCE`;
  const elements = value.valueBlock.value;
  let next = 0;
  for (const field of fields) {
    const element = elements[next];
    if (element && field.is(element)) next++;
    else if (!field.optional) return `the ${what} lacks its ${field.name}`;
  }
  return next === elements.length
    ? undefined
    : `the ${what} has ${elements.length - next} element(s) its schema does not have`;
}

/** RFC 5652 section 5.1: the elements of a SignedData, as the token reader requires them. */
const SIGNED_DATA: Field[] = [
  { name: 'version', is: universal(2) },
  { name: 'digestAlgorithms', is: universal(17) },
  { name: 'encapContentInfo', is: universal(16) },
  { name: 'certificates', is: context(0), optional: true },
  { name: 'crls', is: context(1), optional: true },
  { name: 'signerInfos', is: universal(17) },
];

/** What a token's reader takes from its SignedData. */
interface SignedDataParts {
  encapContentInfo: pkijs.EncapsulatedContentInfo;
  signerInfos: pkijs.SignerInfo[];
}

/**
 * `new pkijs.SignedData({ schema: value })` as PKI.js 4.0.0 does it (SignedData.fromSchema), step
 * by step and in its order, for a SignedData whose elements the token reader has already placed
 * (SIGNED_DATA: version INTEGER, digestAlgorithms SET, encapContentInfo SEQUENCE, [0]
 * certificates and [1] crls optional, signerInfos SET, nothing else). It throws what PKI.js
 * throws, and gives the same EncapsulatedContentInfo and SignerInfos. What it saves: PKI.js
 * builds the whole SignedData schema for each token (its CertificateSet alternatives hold the
 * attribute-certificate schemas) and parses each embedded certificate, which together cost
 * several times a token's signature check; here the certificates are judged once per distinct
 * bytes (judgeCertificates), every token of a TSA embedding the same ones.
 *
 * 1. PKI.js compares the SignedData with its schema, and a mismatch anywhere fails as "Object's
 *    schema was not verified against input data for SignedData". With the elements placed,
 *    asn1js's compareSchema matches each schema element with the element at its place (an
 *    optional [0] or [1] that does not match pushes the elements after it on, where the
 *    signerInfos SET then meets a [0] or [1] and fails), so the whole matches if and only if each
 *    element matches its schema element: that is what is compared here, one by one, with the
 *    same schema elements.
 * 2. Then, in PKI.js's order, the objects: each digestAlgorithm, the encapContentInfo, the
 *    certificate set (its CertificateSet; what PKI.js threw parsing it, thrown again), each CRL,
 *    each SignerInfo. The version PKI.js reads needs no reading: the token reader checked it.
 */
function readSignedData(value: asn1js.Constructed): SignedDataParts {
  const elements = value.valueBlock.value;
  const [version, digestAlgorithms, encapsulated] = elements as [
    asn1js.AsnType,
    asn1js.Constructed,
    asn1js.AsnType,
  ];
  const signerInfos = elements[elements.length - 1] as asn1js.Constructed;
  const certificates = elements.slice(3, -1).find(context(0));
  const crls = elements.slice(3, -1).find(context(1)) as asn1js.Constructed | undefined;

  const matches = (element: asn1js.AsnType, schema: asn1js.AsnType): boolean =>
    asn1js.compareSchema(element, element, schema).verified;
  const verified =
    // The SignedData itself: a SEQUENCE (requireShape took any constructed value).
    matches(value, new asn1js.Sequence()) &&
    matches(version, new asn1js.Integer()) &&
    matches(
      digestAlgorithms,
      new asn1js.Set({
        value: [new asn1js.Repeated({ value: pkijs.AlgorithmIdentifier.schema() })],
      }),
    ) &&
    matches(encapsulated, pkijs.EncapsulatedContentInfo.schema()) &&
    (certificates === undefined || judgeCertificates(certificates).matches) &&
    (crls === undefined ||
      matches(
        crls,
        new asn1js.Constructed({
          idBlock: { tagClass: 3, tagNumber: 1 },
          value: pkijs.RevocationInfoChoices.schema().valueBlock.value,
        }),
      )) &&
    matches(
      signerInfos,
      new asn1js.Set({
        value: [new asn1js.Repeated({ value: pkijs.SignerInfo.schema() })],
      }),
    );
  if (!verified) pkijs.AsnError.assertSchema({ verified: false }, 'SignedData');

  for (const algorithm of digestAlgorithms.valueBlock.value)
    new pkijs.AlgorithmIdentifier({ schema: algorithm });
  const encapContentInfo = new pkijs.EncapsulatedContentInfo({ schema: encapsulated });
  if (certificates !== undefined) {
    const judged = judgeCertificates(certificates);
    if (judged.failure) throw judged.failure.thrown;
  }
  for (const crl of crls?.valueBlock.value ?? []) {
    if (crl.idBlock.tagClass === 1) {
      new pkijs.CertificateRevocationList({ schema: crl });
    } else {
      // As PKI.js: the [1] OtherRevocationInfoFormat is read as a SEQUENCE, in place.
      crl.idBlock.tagClass = 1;
      crl.idBlock.tagNumber = 16;
      new pkijs.OtherRevocationInfoFormat({ schema: crl });
    }
  }
  return {
    encapContentInfo,
    signerInfos: signerInfos.valueBlock.value.map((schema) => new pkijs.SignerInfo({ schema })),
  };
}

/** What PKI.js makes of a certificate set: whether it matches the schema, and its parse's error. */
interface Judgement {
  matches: boolean;
  /** what `new pkijs.CertificateSet` threw, if it did (the token reader reads its message) */
  failure: { thrown: unknown } | undefined;
}

/**
 * Judgements of the certificate sets seen last, by their DER: a function of those bytes alone (the
 * set's asn1js tree is decoded from them), so a kept one is what judging again would give. Bounded:
 * the oldest goes first.
 */
const recentJudgements = new Map<string, Judgement>();
const RECENT_JUDGEMENTS = 16;

/**
 * The [0] certificates element as PKI.js's SignedData judges it: matched with its schema element
 * (the CertificateSet alternatives), then parsed as `new CertificateSet(...)`.
 */
function judgeCertificates(element: asn1js.AsnType): Judgement {
  const bytes = element.valueBeforeDecodeView;
  // An element made rather than decoded has no bytes to know it by: judged, never kept.
  const key =
    bytes.byteLength > 0
      ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
      : undefined;
  const known = key === undefined ? undefined : recentJudgements.get(key);
  if (known) return known;
  const judged: Judgement = { matches: false, failure: undefined };
  const schema = new asn1js.Constructed({
    idBlock: { tagClass: 3, tagNumber: 0 },
    value: pkijs.CertificateSet.schema().valueBlock.value,
  });
  judged.matches = asn1js.compareSchema(element, element, schema).verified;
  if (judged.matches) {
    try {
      new pkijs.CertificateSet({
        schema: new asn1js.Set({ value: (element as asn1js.Constructed).valueBlock.value }),
      });
    } catch (error) {
      judged.failure = { thrown: error };
    }
  }
  if (key === undefined) return judged;
  recentJudgements.set(key, judged);
  if (recentJudgements.size > RECENT_JUDGEMENTS)
    recentJudgements.delete(recentJudgements.keys().next().value!);
  return judged;
}

/** A parsed token with the CMS pieces signature verification needs. */
export interface OracleToken {
  timestamp: Timestamp;
  signerInfo: pkijs.SignerInfo;
  /** DER of the signed attributes as signed: a SET OF Attribute (tag 0x31). */
  signedAttributesDer: Buffer | undefined;
  signature: Buffer;
}

const parseFailure = (message: string) =>
  new VerificationError('malformed', `error parsing response into Timestamp: ${message}`);
const invalid = (message: string) =>
  new VerificationError('malformed', `timestamp response is not valid: ${message}`);

/**
 * Exactly one DER value: asn1js accepts trailing bytes and BER (non-minimal lengths, padded
 * INTEGERs ...), under which other byte strings would verify as the same token. `opaque` values
 * are left unwalked (embedded certificates, hashed as received).
 */
function decodeExactly(bytes: Uint8Array, what: string, opaque?: Opaque): asn1js.AsnType {
  let decoded: ReturnType<typeof asn1js.fromBER>;
  try {
    decoded = asn1js.fromBER(bytes);
  } catch (error) {
    // asn1js throws (rather than reporting) on some malformed values, e.g. a bad GeneralizedTime.
    throw parseFailure(`${what} is not valid ASN.1: ${(error as Error).message}`);
  }
  if (decoded.offset === -1)
    throw parseFailure(`${what} is not valid ASN.1: ${decoded.result.error}`);
  if (decoded.offset !== bytes.byteLength) throw parseFailure(`trailing data after the ${what}`);
  const problem = derProblem(bytes, opaque);
  if (problem) throw parseFailure(`the ${what} is not DER: ${problem}`);
  return decoded.result;
}

/** Refuses a SEQUENCE whose elements break its schema, extra trailing ones included. */
function requireShape(value: asn1js.AsnType | undefined, fields: readonly Field[], what: string) {
  const problem = shapeProblem(value, fields, what);
  if (problem) throw invalid(problem);
}

const elementsOf = (value: asn1js.AsnType | undefined): asn1js.AsnType[] =>
  value instanceof asn1js.Constructed ? value.valueBlock.value : [];

const SEQUENCE = universal(16);
const INTEGER = universal(2);
const OID = universal(6);
const OCTET_STRING = universal(4);

/** RFC 5652 sections 3, 5.1, 5.2 and 5.3. */
const CONTENT_INFO: Field[] = [
  { name: 'contentType', is: OID },
  { name: 'content', is: context(0) },
];
const ENCAPSULATED_CONTENT_INFO: Field[] = [
  { name: 'eContentType', is: OID },
  { name: 'eContent', is: context(0), optional: true },
];
const SIGNER_INFO: Field[] = [
  { name: 'version', is: INTEGER },
  { name: 'sid', is: (element) => SEQUENCE(element) || context(0)(element) },
  { name: 'digestAlgorithm', is: SEQUENCE },
  { name: 'signedAttrs', is: context(0), optional: true },
  { name: 'signatureAlgorithm', is: SEQUENCE },
  { name: 'signature', is: OCTET_STRING },
  { name: 'unsignedAttrs', is: context(1), optional: true },
];
/** RFC 3161 section 2.4.2 TSTInfo, MessageImprint and Accuracy. */
const TST_INFO: Field[] = [
  { name: 'version', is: INTEGER },
  { name: 'policy', is: OID },
  { name: 'messageImprint', is: SEQUENCE },
  { name: 'serialNumber', is: INTEGER },
  { name: 'genTime', is: universal(24) },
  { name: 'accuracy', is: SEQUENCE, optional: true },
  { name: 'ordering', is: universal(1), optional: true },
  { name: 'nonce', is: INTEGER, optional: true },
  { name: 'tsa', is: context(0), optional: true },
  { name: 'extensions', is: context(1), optional: true },
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

/**
 * Accuracy's shape, and its millis [0] and micros [1] as DER INTEGERs: implicitly tagged, so the
 * DER walk cannot tell they are INTEGERs (Go's encoding/asn1 refuses them padded too).
 */
function requireAccuracy(accuracy: asn1js.AsnType) {
  requireShape(accuracy, ACCURACY, 'Accuracy');
  for (const element of elementsOf(accuracy)) {
    if (element.idBlock.tagClass !== 3) continue;
    const name = element.idBlock.tagNumber === 0 ? 'millis' : 'micros';
    const problem =
      element instanceof asn1js.Primitive
        ? integerProblem(element.valueBlock.valueHexView)
        : 'constructed';
    if (problem) throw invalid(`the Accuracy's ${name} is not a DER INTEGER: ${problem}`);
  }
}

/**
 * The Accuracy's values, each INTEGER read whole: PKI.js's Accuracy takes asn1js's valueDec, which
 * is 0 for an INTEGER of four octets or more (a seconds of 2^23 or more read as no error at all).
 */
function accuracyOf(accuracy: asn1js.AsnType) {
  const read = { seconds: 0, millis: 0, micros: 0 };
  for (const element of elementsOf(accuracy)) {
    const { valueHexView } = (element as asn1js.Primitive).valueBlock;
    const value = Number(new asn1js.Integer({ valueHex: valueHexView }).toBigInt());
    if (element.idBlock.tagClass !== 3) read.seconds = value;
    else read[element.idBlock.tagNumber === 0 ? 'millis' : 'micros'] = value;
  }
  return read;
}

/**
 * The SignedData versions accepted: the one RFC 5652 section 5.1 sets, from the CertificateChoices
 * and RevocationInfoChoices present (5 with an other format, [3] certificate or [1] CRL; else 4
 * with a v2 attribute certificate [2]; else 3, the eContentType, TSTInfo, not being id-data); and
 * in place of 3, version 1, which Go's TSA writes (digitorus/pkcs7 always does): its tokens verify.
 */
function signedDataVersions(signedDataElements: readonly asn1js.AsnType[]): bigint[] {
  const setOf = (tagNumber: number) =>
    elementsOf(signedDataElements.find((element) => context(tagNumber)(element)));
  const certificates = setOf(0);
  if (certificates.some(context(3)) || setOf(1).some(context(1))) return [5n];
  return certificates.some(context(2)) ? [4n] : [3n, 1n];
}

/**
 * The version fields are outside the signature: a value other than those accepted would be one
 * more encoding of the same token.
 */
function requireVersion(
  version: asn1js.AsnType | undefined,
  accepted: readonly bigint[],
  what: string,
): void {
  const value = version instanceof asn1js.Integer ? version.toBigInt() : undefined;
  if (value === undefined || !accepted.includes(value)) {
    throw invalid(`the ${what} version is ${value ?? 'missing'}, not ${accepted.join(' or ')}`);
  }
}

/** ContentInfo > [0] > SignedData > certificates [0] or crls [1]: as received (X.509 is not ours to judge). */
const TOKEN_OPAQUE: Opaque = (path, tag) =>
  path.length === 4 && path[1] === 1 && (tag === 0xa0 || tag === 0xa1);

function fromSchema<T>(build: () => T, what: string): T {
  try {
    return build();
  } catch (error) {
    if (error instanceof VerificationError) throw error;
    throw parseFailure(`${what}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Parses a TimeStampToken (a CMS ContentInfo), e.g. one carried in a sigstore bundle. */
export function oracleParseToken(token: Uint8Array, status = 0): OracleToken {
  try {
    return readToken(token, status);
  } catch (error) {
    // PKI.js objects built from odd but decodable ASN.1 can fail in surprising ways.
    if (error instanceof VerificationError) throw error;
    throw invalid(error instanceof Error ? error.message : String(error));
  }
}

function readToken(token: Uint8Array, status: number): OracleToken {
  const decoded = decodeExactly(token, 'token', TOKEN_OPAQUE);
  requireShape(decoded, CONTENT_INFO, 'ContentInfo');
  const content = elementsOf(decoded)[1];
  if (elementsOf(content).length !== 1) throw invalid('the ContentInfo content is not one value');
  const signedDataValue = elementsOf(content)[0];
  requireShape(signedDataValue, SIGNED_DATA, 'SignedData');
  const signedDataElements = elementsOf(signedDataValue);
  const encapsulatedValue = signedDataElements[2];
  requireShape(encapsulatedValue, ENCAPSULATED_CONTENT_INFO, 'EncapsulatedContentInfo');
  const eContent = elementsOf(encapsulatedValue)[1];
  if (eContent && elementsOf(eContent).length !== 1)
    throw invalid('the eContent is not one OCTET STRING');
  requireVersion(signedDataElements[0], signedDataVersions(signedDataElements), 'SignedData');
  for (const signerInfoValue of elementsOf(signedDataElements[signedDataElements.length - 1])) {
    requireShape(signerInfoValue, SIGNER_INFO, 'SignerInfo');
    // RFC 5652 section 5.3: 1 with an issuerAndSerialNumber sid, 3 with a subjectKeyIdentifier.
    const [version, sid] = elementsOf(signerInfoValue);
    requireVersion(version, [sid && SEQUENCE(sid) ? 1n : 3n], 'SignerInfo');
  }
  const contentInfo = fromSchema(
    () => new pkijs.ContentInfo({ schema: decoded }),
    'not a ContentInfo',
  );
  if (contentInfo.contentType !== VERIFY_OID.signedData) {
    throw invalid(`token content type is ${contentInfo.contentType}, not SignedData`);
  }
  const signedData = fromSchema(
    () => readSignedData(contentInfo.content as asn1js.Constructed),
    'not a SignedData',
  );
  const encapsulated = signedData.encapContentInfo;
  if (encapsulated.eContentType !== VERIFY_OID.tstInfo) {
    throw invalid(`encapsulated content type is ${encapsulated.eContentType}, not TSTInfo`);
  }
  if (!(encapsulated.eContent instanceof asn1js.OctetString))
    throw invalid('the SignedData carries no TSTInfo');
  const tstInfoDer = Buffer.from(encapsulated.eContent.getValue());
  const tstInfoValue = decodeExactly(tstInfoDer, 'TSTInfo');
  requireShape(tstInfoValue, TST_INFO, 'TSTInfo');
  requireShape(elementsOf(tstInfoValue)[2], MESSAGE_IMPRINT, 'MessageImprint');
  const accuracy = elementsOf(tstInfoValue).find(
    (element, index) => index === 5 && SEQUENCE(element),
  );
  if (accuracy) requireAccuracy(accuracy);
  const tstInfo = fromSchema(() => new pkijs.TSTInfo({ schema: tstInfoValue }), 'not a TSTInfo');
  // The tsa GeneralName's bytes as received (PKI.js's GeneralName keeps none).
  const tsaElement = elementsOf(tstInfoValue).find((element) => context(0)(element));
  const tsaGeneralName = elementsOf(tsaElement)[0] as asn1js.BaseBlock | undefined;
  const tsaGeneralNameDer = tsaGeneralName && Buffer.from(tsaGeneralName.valueBeforeDecodeView);
  if (tstInfo.version !== 1) throw invalid(`TSTInfo version is ${tstInfo.version}, expected 1`);
  if (signedData.signerInfos.length !== 1) {
    throw invalid(
      `the SignedData has ${signedData.signerInfos.length} signers, expected exactly one`,
    );
  }
  const signerInfo = signedData.signerInfos[0] as pkijs.SignerInfo;

  const hashAlgorithmOid = tstInfo.messageImprint.hashAlgorithm.algorithmId;
  const hashAlgorithm = digestByOid(hashAlgorithmOid);
  if (!hashAlgorithm)
    throw invalid(`unknown hash algorithm ${hashAlgorithmOid} in the message imprint`);
  const digestAlgorithm = digestByOid(signerInfo.digestAlgorithm.algorithmId);
  if (!digestAlgorithm)
    throw invalid(`unknown SignerInfo digest algorithm ${signerInfo.digestAlgorithm.algorithmId}`);

  const certificates = embeddedCertificates(contentInfo.content).map((der) =>
    fromSchema(() => viewCertificate(der), 'embedded certificate'),
  );

  const signedAttributes: SignedAttribute[] = (signerInfo.signedAttrs?.attributes ?? []).map(
    (attribute) => ({
      oid: attribute.type,
      name: attributeName(attribute.type),
      valuesHex: attribute.values.map((value) => Buffer.from(value.toBER()).toString('hex')),
      description: describeAttribute(attribute),
    }),
  );
  const signingTimeAttribute = signerInfo.signedAttrs?.attributes.find(
    (a) => a.type === VERIFY_OID.signingTime,
  );
  const signingTimeValue = signingTimeAttribute?.values[0];
  const tsa = tstInfo.tsa;
  const tsaNameDer =
    tsa?.type === 4 && tsa.value instanceof pkijs.RelativeDistinguishedNames
      ? Buffer.from(tsa.value.valueBeforeDecode)
      : undefined;

  const timestamp: Timestamp = {
    status,
    version: tstInfo.version,
    policy: tstInfo.policy,
    hashAlgorithm,
    hashAlgorithmOid,
    hashedMessage: Buffer.from(tstInfo.messageImprint.hashedMessage.getValue()),
    serialNumber: tstInfo.serialNumber.toBigInt(),
    genTime: tstInfo.genTime,
    accuracy: accuracy ? accuracyOf(accuracy) : undefined,
    ordering: tstInfo.ordering ?? false,
    nonce: tstInfo.nonce?.toBigInt(),
    tsaName: tsa ? generalNameText(tsa) : undefined,
    tsaNameDer,
    tsaGeneralNameDer,
    extensions: (tstInfo.extensions ?? []).map((extension) => ({
      oid: extension.extnID,
      critical: extension.critical,
      valueHex: Buffer.from(extension.extnValue.getValue()).toString('hex'),
    })),
    certificates,
    signer: {
      identifier: signerIdentifierText(signerInfo),
      digestAlgorithm,
      signatureAlgorithmOid: signerInfo.signatureAlgorithm.algorithmId,
      signedAttributes,
      signingTime:
        signingTimeValue instanceof asn1js.UTCTime ||
        signingTimeValue instanceof asn1js.GeneralizedTime
          ? signingTimeValue.toDate()
          : undefined,
    },
    tstInfoDer,
    tokenDer: Buffer.from(token),
  };
  return {
    timestamp,
    signerInfo,
    signedAttributesDer: signerInfo.signedAttrs
      ? Buffer.from(signerInfo.signedAttrs.encodedValue)
      : undefined,
    signature: Buffer.from(signerInfo.signature.getValue()),
  };
}

/**
 * The certificates [0] IMPLICIT CertificateSet of a SignedData, as the exact bytes received (the
 * ESS certificate hash is over those bytes, not over a re-encoding).
 */
function embeddedCertificates(signedData: asn1js.AsnType): Buffer[] {
  if (!(signedData instanceof asn1js.Sequence)) throw invalid('the SignedData is not a SEQUENCE');
  const set = signedData.valueBlock.value.find(
    (element) => element.idBlock.tagClass === 3 && element.idBlock.tagNumber === 0,
  );
  if (!(set instanceof asn1js.Constructed)) return [];
  return set.valueBlock.value.map((element) => {
    if (!(element instanceof asn1js.Sequence))
      throw invalid('the SignedData embeds a non-X.509 certificate');
    return Buffer.from(element.valueBeforeDecodeView);
  });
}

import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { context, universal, type Field } from './der.js';

/** RFC 5652 section 5.1: the elements of a SignedData, as the token reader requires them. */
export const SIGNED_DATA: Field[] = [
  { name: 'version', is: universal(2) },
  { name: 'digestAlgorithms', is: universal(17) },
  { name: 'encapContentInfo', is: universal(16) },
  { name: 'certificates', is: context(0), optional: true },
  { name: 'crls', is: context(1), optional: true },
  { name: 'signerInfos', is: universal(17) },
];

/** What a token's reader takes from its SignedData. */
export interface SignedDataParts {
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
export function readSignedData(value: asn1js.Constructed): SignedDataParts {
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

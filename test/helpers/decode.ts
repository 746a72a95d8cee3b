import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { FailInfo, type FailInfoName } from '../../src/tsp/rejection.js';

/** A TimeStampResp decoded with PKI.js, independently of our encoder. */
export interface DecodedResponse {
  status: number;
  statusStrings: string[];
  failInfo: FailInfoName[];
  signedData?: pkijs.SignedData;
  tstInfo?: pkijs.TSTInfo;
  /** DER of the TSTInfo as carried in eContent. */
  tstInfoDer?: Uint8Array;
}

function fromDer(der: Uint8Array): asn1js.AsnType {
  const parsed = asn1js.fromBER(der);
  if (parsed.offset === -1) throw new Error(`not BER: ${parsed.result.error}`);
  if (parsed.offset !== der.byteLength) throw new Error('trailing bytes');
  return parsed.result;
}

const FAIL_INFO_NAMES = Object.entries(FailInfo) as [FailInfoName, number][];

export function decodeResponse(der: Uint8Array): DecodedResponse {
  const response = new pkijs.TimeStampResp({ schema: fromDer(der) });
  const statusInfo = response.status;
  const decoded: DecodedResponse = {
    status: statusInfo.status,
    statusStrings: (statusInfo.statusStrings ?? []).map(
      (s) => (s as asn1js.Utf8String).valueBlock.value,
    ),
    failInfo: [],
  };
  if (statusInfo.failInfo) {
    const bits = new Uint8Array(statusInfo.failInfo.valueBlock.valueHexView);
    decoded.failInfo = FAIL_INFO_NAMES.filter(
      ([, bit]) => ((bits[bit >> 3] ?? 0) & (0x80 >> (bit & 7))) !== 0,
    ).map(([name]) => name);
  }
  if (response.timeStampToken) {
    const signedData = new pkijs.SignedData({ schema: response.timeStampToken.content });
    const eContent = signedData.encapContentInfo.eContent;
    if (!eContent) throw new Error('no eContent');
    const tstInfoDer = new Uint8Array(eContent.valueBlock.valueHexView);
    decoded.signedData = signedData;
    decoded.tstInfoDer = tstInfoDer;
    decoded.tstInfo = new pkijs.TSTInfo({ schema: fromDer(tstInfoDer) });
  }
  return decoded;
}

/** The dotted OID of an asn1js ObjectIdentifier or string. */
export const dotted = (value: string | asn1js.ObjectIdentifier): string =>
  typeof value === 'string' ? value : value.valueBlock.toString();

export function nonceOf(tstInfo: pkijs.TSTInfo): bigint | undefined {
  return tstInfo.nonce ? BigInt(tstInfo.nonce.toBigInt()) : undefined;
}

/** Common name of a certificate's subject. */
export function commonName(certificate: pkijs.Certificate): string | undefined {
  const attribute = certificate.subject.typesAndValues.find((tv) => tv.type === '2.5.4.3');
  return attribute ? String(attribute.value.valueBlock.value) : undefined;
}

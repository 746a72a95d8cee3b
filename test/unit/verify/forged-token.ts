import { oid, set } from '../../../src/asn1/der.js';
import { acceptedRequest, encoderFor, type Pki } from '../../helpers/pki.js';

/** The instant the forged tokens are made at: fixed, inside makePki's validity for this `now`. */
export const FORGED_AT = new Date('2030-06-01T12:00:00Z');

export interface Forgery {
  /** Changes the TSTInfo DER before the signed attributes are computed over it. */
  tstInfo?: (der: Buffer) => Buffer;
  /** Changes the signed attributes (each a DER Attribute) before they are signed. */
  attributes?: (attributes: Buffer[]) => Buffer[];
  /** Changes the whole TimeStampResp after signing. */
  response?: (der: Buffer) => Buffer;
  /** Embedded certificates, the leaf first (the PKI's leaf alone by default). */
  certificates?: Buffer[];
}

/**
 * A granted TimeStampResp over `artifact` that `pki`'s leaf signs after `forgery` is applied: a
 * token as its key holder made it, whatever it says.
 */
export async function forgeToken(
  pki: Pki,
  artifact: Uint8Array,
  forgery: Forgery = {},
): Promise<Buffer> {
  const certificates = forgery.certificates ?? [pki.leaf.der];
  const encoder = encoderFor(pki.leaf.signer, certificates, certificates.length > 1);
  const genTime = encoder.genTimeAt(FORGED_AT.getTime());
  const original = encoder.encodeTstInfo({
    request: acceptedRequest({ artifact }),
    serialNumber: Buffer.from('0a0b', 'hex'),
    genTime,
  });
  const tstInfo = forgery.tstInfo ? forgery.tstInfo(original) : original;
  const encoded = encoder.encodeSignedAttributes(tstInfo, genTime);
  const attributes = forgery.attributes ? forgery.attributes(encoded) : encoded;
  const signature = await pki.leaf.signer.sign(set(...attributes));
  const response = encoder.assemble(tstInfo, attributes, signature, true);
  return forgery.response ? forgery.response(response) : response;
}

/** Whether `attribute` (an Attribute's DER: SEQUENCE { type OID, values SET }) is of type `dotted`. */
export function isAttribute(attribute: Buffer, dotted: string): boolean {
  const lengthOctet = attribute[1] as number;
  const header = lengthOctet & 0x80 ? 2 + (lengthOctet & 0x7f) : 2;
  const type = oid(dotted);
  return attribute.subarray(header, header + type.length).equals(type);
}

/** The attributes with those of type `dotted` replaced by `replacement`, in DER SET order. */
export const replaceAttribute =
  (dotted: string, replacement: Buffer) =>
  (attributes: Buffer[]): Buffer[] =>
    attributes
      .map((attribute) => (isAttribute(attribute, dotted) ? replacement : attribute))
      .sort(Buffer.compare);

import { createHash } from 'node:crypto';
import * as asn1js from 'asn1js';
import fc from 'fast-check';
import * as pkijs from 'pkijs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HASHES, type HashName } from '../../../src/asn1/algorithms.js';
import { integer, oidContent, sequence, Tag, tlv } from '../../../src/asn1/der.js';
import { OID } from '../../../src/asn1/oids.js';
import type { AcceptedRequest } from '../../../src/tsp/request.js';
import { parseTimeStampReq } from '../../../src/tsp/request.js';
import type { TokenEncoder } from '../../../src/tsp/token-encoder.js';
import type { Certificate } from '../../../src/x509/certificate.js';
import { encodeTimeStampReq, type RequestFields } from '../../helpers/encode-request.js';
import { createTestServer } from '../../helpers/tsa.js';

const hex = (bytes: Uint8Array | ArrayBuffer): string =>
  Buffer.from(bytes as Uint8Array).toString('hex');

/** OID content octets from arbitrary arcs (X.660: first arc 0..2, second < 40 unless the first is 2). */
const oidWithArcsBelow = (limit: bigint) =>
  fc
    .tuple(
      fc.integer({ min: 0, max: 2 }),
      fc.integer({ min: 0, max: 39 }),
      fc.array(fc.bigInt({ min: 0n, max: limit - 1n }), { maxLength: 10 }),
    )
    .map(([first, second, rest]) => oidContent([first, second, ...rest].join('.')));
const oidArbitrary = oidWithArcsBelow(1n << 64n);
/** asn1js mis-encodes arcs of 2^53 and above (it writes them as "{...}"), so PKI.js gets smaller ones. */
const pkijsOidArbitrary = oidWithArcsBelow(1n << 52n);

describe('any bytes to the HTTP handler', () => {
  let app: Awaited<ReturnType<typeof createTestServer>>['app'];
  beforeAll(async () => {
    ({ app } = await createTestServer());
  });
  afterAll(() => app.close());

  it('answer 2xx or 4xx, never 5xx or a throw', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 2048 }),
        fc.constantFrom('application/timestamp-query', 'application/json'),
        async (body, contentType) => {
          const response = await app.inject({
            method: 'POST',
            url: '/api/v1/timestamp',
            headers: { 'content-type': contentType },
            payload: Buffer.from(body),
          });
          expect(response.statusCode).toBeGreaterThanOrEqual(200);
          expect(response.statusCode).toBeLessThan(500);
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('parse(encode(request))', () => {
  const requestArbitrary: fc.Arbitrary<RequestFields> = fc.record(
    {
      version: fc.oneof(
        fc.bigInt({ min: -128n, max: 127n }),
        fc.bigInt({ min: -(1n << 300n), max: 1n << 300n }),
      ),
      hashAlgorithmOid: fc.oneof(
        fc.constantFrom(...Object.values(HASHES).map((hash) => oidContent(hash.oid))),
        oidArbitrary,
      ),
      hashParametersNull: fc.boolean(),
      hashedMessage: fc.uint8Array({ minLength: 1, maxLength: 80 }),
      reqPolicy: oidArbitrary,
      nonce: fc.bigInt({ min: -(1n << 511n), max: (1n << 511n) - 1n }),
      certReq: fc.boolean(),
      extensions: fc.array(
        fc.record(
          { oid: oidArbitrary, critical: fc.boolean(), value: fc.uint8Array({ maxLength: 40 }) },
          { requiredKeys: ['oid', 'value'] },
        ),
        { minLength: 1, maxLength: 3 },
      ),
    },
    { requiredKeys: ['version', 'hashAlgorithmOid', 'hashParametersNull', 'hashedMessage'] },
  );

  it('gives back every field (versions outside one octet are refused as -1)', () => {
    fc.assert(
      fc.property(requestArbitrary, (fields) => {
        const parsed = parseTimeStampReq(encodeTimeStampReq(fields));
        expect({
          version: parsed.version,
          hashAlgorithmOid: hex(parsed.hashAlgorithmOid),
          hashedMessage: hex(parsed.hashedMessage),
          messageImprint: parsed.messageImprint && hex(parsed.messageImprint),
          reqPolicy: parsed.reqPolicy && hex(parsed.reqPolicy),
          nonce: parsed.nonce && hex(parsed.nonce),
          certReq: parsed.certReq,
          extensions: parsed.extensions && hex(parsed.extensions),
        }).toEqual({
          version: fields.version >= -128n && fields.version <= 127n ? fields.version : -1n,
          hashAlgorithmOid: hex(fields.hashAlgorithmOid),
          hashedMessage: hex(fields.hashedMessage),
          // Kept as sent, to be copied into TSTInfo: NULL parameters stay NULL, absent stay absent.
          messageImprint: hex(
            sequence(
              sequence(
                tlv(Tag.OID, fields.hashAlgorithmOid),
                ...(fields.hashParametersNull ? [Buffer.from([0x05, 0x00])] : []),
              ),
              tlv(Tag.OCTET_STRING, fields.hashedMessage),
            ),
          ),
          reqPolicy: fields.reqPolicy && hex(tlv(Tag.OID, fields.reqPolicy)),
          nonce: fields.nonce === undefined ? undefined : hex(integer(fields.nonce)),
          certReq: fields.certReq ?? false,
          extensions:
            fields.extensions &&
            hex(
              Buffer.concat(
                fields.extensions.map((e) =>
                  sequence(
                    tlv(Tag.OID, e.oid),
                    ...(e.critical === undefined
                      ? []
                      : [Buffer.from([0x01, 0x01, e.critical ? 0xff : 0x00])]),
                    tlv(Tag.OCTET_STRING, e.value),
                  ),
                ),
              ),
            ),
        });
      }),
      { numRuns: 5000 },
    );
  });
});

/**
 * The template encoder against PKI.js building the same token from the same inputs: TSTInfo from
 * the request fields, the signed attributes from their definitions (RFC 5652, RFC 5816), DER-sorted
 * as a SET OF, the same signature bytes. The two byte strings must be identical.
 */
describe('token encoder agrees with PKI.js', () => {
  const encoders: { encoder: TokenEncoder; chain: Certificate[]; includeChain: boolean }[] = [];
  beforeAll(async () => {
    for (const includeChain of [false, true]) {
      const { authority, chain, app } = await createTestServer({
        includeChainInResponse: includeChain,
      });
      await app.close();
      encoders.push({ encoder: authority.encoder, chain, includeChain });
    }
  });

  const inputs = fc.record({
    includeChain: fc.boolean(),
    hash: fc.constantFrom<HashName>('sha256', 'sha384', 'sha512'),
    digestSeed: fc.uint8Array({ minLength: 1, maxLength: 16 }),
    reqPolicy: fc.option(pkijsOidArbitrary, { nil: undefined }),
    nonce: fc.option(fc.bigInt({ min: -(1n << 255n), max: (1n << 255n) - 1n }), { nil: undefined }),
    certReq: fc.boolean(),
    extensions: fc.option(
      fc.array(
        fc.record({
          oid: pkijsOidArbitrary,
          critical: fc.boolean(),
          value: fc.uint8Array({ maxLength: 30 }),
        }),
        {
          minLength: 1,
          maxLength: 3,
        },
      ),
      { nil: undefined },
    ),
    serialNumber: fc.uint8Array({ minLength: 1, maxLength: 20 }),
    // UTCTime years (signingTime) and beyond: 1950..2100, whole seconds.
    genTime: fc
      .integer({ min: -631_152_000, max: 4_102_444_800 })
      .map((seconds) => new Date(seconds * 1000)),
    signature: fc.uint8Array({ minLength: 8, maxLength: 80 }),
  });

  it('byte for byte on TSTInfo and the whole TimeStampResp', () => {
    fc.assert(
      fc.property(inputs, (input) => {
        const { encoder, chain } = encoders[
          input.includeChain ? 1 : 0
        ] as (typeof encoders)[number];
        const hash = HASHES[input.hash];
        const hashedMessage = createHash(input.hash).update(input.digestSeed).digest();
        const extensionsDer = input.extensions?.map((e) =>
          sequence(
            tlv(Tag.OID, e.oid),
            ...(e.critical ? [Buffer.from([0x01, 0x01, 0xff])] : []),
            tlv(Tag.OCTET_STRING, e.value),
          ),
        );
        const request: AcceptedRequest = {
          version: 1n,
          hashAlgorithmOid: oidContent(hash.oid),
          hashedMessage,
          certReq: input.certReq,
          hash,
          ...(input.reqPolicy ? { reqPolicy: tlv(Tag.OID, input.reqPolicy) } : {}),
          ...(input.nonce === undefined ? {} : { nonce: integer(input.nonce) }),
          ...(extensionsDer ? { extensions: Buffer.concat(extensionsDer) } : {}),
        };
        const tstInfo = encoder.encodeTstInfo({
          request,
          serialNumber: input.serialNumber,
          genTime: input.genTime,
        });
        const attributes = encoder.encodeSignedAttributes(tstInfo, input.genTime);
        const ours = encoder.assemble(tstInfo, attributes, input.signature, input.certReq);

        const theirs = encodeWithPkijs({
          ...input,
          hashedMessage,
          chain,
          defaultPolicy: OID.sigstoreTsaPolicy,
        });
        expect(hex(tstInfo)).toBe(hex(theirs.tstInfo));
        expect(hex(ours)).toBe(hex(theirs.response));
      }),
      { numRuns: 1000 },
    );
  });
});

interface PkijsInput {
  includeChain: boolean;
  hash: HashName;
  hashedMessage: Uint8Array;
  reqPolicy: Uint8Array | undefined;
  nonce: bigint | undefined;
  certReq: boolean;
  extensions: { oid: Uint8Array; critical: boolean; value: Uint8Array }[] | undefined;
  serialNumber: Uint8Array;
  genTime: Date;
  signature: Uint8Array;
  chain: Certificate[];
  defaultPolicy: string;
}

const buffer = (bytes: Uint8Array): ArrayBuffer => new Uint8Array(bytes).buffer;
const dottedOid = (content: Uint8Array): string =>
  (
    asn1js.fromBER(buffer(tlv(Tag.OID, content))).result as asn1js.ObjectIdentifier
  ).valueBlock.toString();
const der = (schema: { toBER(): ArrayBuffer }): Uint8Array => new Uint8Array(schema.toBER());

function encodeWithPkijs(input: PkijsInput): { tstInfo: Uint8Array; response: Uint8Array } {
  const certificates = input.chain.map((c) => pkijs.Certificate.fromBER(buffer(c.der)));
  const leaf = certificates[0] as pkijs.Certificate;
  const hashOid = HASHES[input.hash].oid;
  const tstInfo = new pkijs.TSTInfo({
    version: 1,
    policy: input.reqPolicy ? dottedOid(input.reqPolicy) : input.defaultPolicy,
    messageImprint: new pkijs.MessageImprint({
      hashAlgorithm: new pkijs.AlgorithmIdentifier({
        algorithmId: hashOid,
        algorithmParams: new asn1js.Null(),
      }),
      hashedMessage: new asn1js.OctetString({ valueHex: buffer(input.hashedMessage) }),
    }),
    serialNumber: asn1js.Integer.fromBigInt(BigInt(`0x${hex(input.serialNumber)}`)),
    genTime: input.genTime,
    accuracy: new pkijs.Accuracy({ seconds: 1 }),
    ...(input.nonce === undefined ? {} : { nonce: asn1js.Integer.fromBigInt(input.nonce) }),
    tsa: new pkijs.GeneralName({ type: 4, value: leaf.subject }),
    ...(input.extensions
      ? {
          extensions: input.extensions.map(
            (e) =>
              new pkijs.Extension({
                extnID: dottedOid(e.oid),
                critical: e.critical,
                extnValue: buffer(e.value),
              }),
          ),
        }
      : {}),
  });
  const tstInfoDer = der(tstInfo.toSchema());

  // The signer's digest is the memory signer's default, SHA-256.
  const signerHash = 'sha256';
  const signerHashOid = HASHES[signerHash].oid;
  const essCertIdV2 = new asn1js.Sequence({
    value: [
      new asn1js.OctetString({
        valueHex: buffer(createHash('sha256').update(der(leaf.toSchema())).digest()),
      }),
      new asn1js.Sequence({
        value: [
          new asn1js.Sequence({
            value: [new pkijs.GeneralName({ type: 4, value: leaf.issuer }).toSchema()],
          }),
          leaf.serialNumber,
        ],
      }),
    ],
  });
  const attributes = [
    new pkijs.Attribute({
      type: OID.contentType,
      values: [new asn1js.ObjectIdentifier({ value: OID.tstInfo })],
    }),
    new pkijs.Attribute({
      type: OID.signingTime,
      values: [
        input.genTime.getUTCFullYear() >= 1950 && input.genTime.getUTCFullYear() < 2050
          ? new asn1js.UTCTime({ valueDate: input.genTime })
          : new asn1js.GeneralizedTime({ valueDate: input.genTime }),
      ],
    }),
    new pkijs.Attribute({
      type: OID.messageDigest,
      values: [
        new asn1js.OctetString({
          valueHex: buffer(createHash(signerHash).update(tstInfoDer).digest()),
        }),
      ],
    }),
    new pkijs.Attribute({
      type: OID.signingCertificateV2,
      values: [new asn1js.Sequence({ value: [new asn1js.Sequence({ value: [essCertIdV2] })] })],
    }),
  ].sort((a, b) => Buffer.compare(Buffer.from(der(a.toSchema())), Buffer.from(der(b.toSchema()))));

  // PKI.js's constructor turns eContent into a BER constructed OCTET STRING; DER (and we) use
  // the primitive form, so it is assigned after construction.
  const encapContentInfo = new pkijs.EncapsulatedContentInfo({ eContentType: OID.tstInfo });
  encapContentInfo.eContent = new asn1js.OctetString({ valueHex: buffer(tstInfoDer) });
  const signedData = new pkijs.SignedData({
    version: 3,
    digestAlgorithms: [new pkijs.AlgorithmIdentifier({ algorithmId: signerHashOid })],
    encapContentInfo,
    ...(input.certReq ? { certificates: input.includeChain ? certificates : [leaf] } : {}),
    signerInfos: [
      new pkijs.SignerInfo({
        version: 1,
        sid: new pkijs.IssuerAndSerialNumber({
          issuer: leaf.issuer,
          serialNumber: leaf.serialNumber,
        }),
        digestAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: signerHashOid }),
        signedAttrs: new pkijs.SignedAndUnsignedAttributes({ type: 0, attributes }),
        signatureAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: OID.ecdsaWithSHA256 }),
        signature: new asn1js.OctetString({ valueHex: buffer(input.signature) }),
      }),
    ],
  });
  const response = new pkijs.TimeStampResp({
    status: new pkijs.PKIStatusInfo({ status: pkijs.PKIStatus.granted }),
    timeStampToken: new pkijs.ContentInfo({
      contentType: OID.signedData,
      content: signedData.toSchema(true),
    }),
  });
  return { tstInfo: tstInfoDer, response: der(response.toSchema()) };
}

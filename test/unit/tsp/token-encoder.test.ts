/**
 * The template encoder against an independent PKI.js encoding of the same inputs, over many random
 * requests: identical bytes for the whole TimeStampResp given the same signature.
 */
import { createHash, verify } from 'node:crypto';
import * as asn1js from 'asn1js';
import fc from 'fast-check';
import * as pkijs from 'pkijs';
import { beforeAll, describe, expect, it } from 'vitest';
import { HASHES, HASH_NAMES, type HashName } from '../../../src/asn1/algorithms.js';
import { oid, oidContent, readElement, toHex } from '../../../src/asn1/der.js';
import { OID } from '../../../src/asn1/oids.js';
import { createMemorySigner } from '../../../src/signers/memory.js';
import {
  checkTimeStampReq,
  parseTimeStampReq,
  type AcceptedRequest,
} from '../../../src/tsp/request.js';
import { TokenEncoder } from '../../../src/tsp/token-encoder.js';
import { parseCertificate, type Certificate } from '../../../src/x509/certificate.js';
import { decodeResponse } from '../../helpers/decode.js';
import { encodeRequest } from '../../helpers/requests.js';

const fromDer = (der: Uint8Array) => asn1js.fromBER(der).result;
const view = (bytes: Uint8Array) => new Uint8Array(bytes).buffer;
const algorithm = (dotted: string, withNull: boolean) =>
  new pkijs.AlgorithmIdentifier({
    algorithmId: dotted,
    ...(withNull ? { algorithmParams: new asn1js.Null() } : {}),
  });

interface Inputs {
  request: AcceptedRequest;
  serialNumber: Uint8Array;
  genTime: Date;
}

/** PKI.js encoding of the same token, attributes in the given (DER-sorted) order. */
function pkijsResponse(
  inputs: Inputs,
  chain: Certificate[],
  signerHash: HashName,
  signatureOid: string,
  includeChain: boolean,
  attributes: Buffer[],
  signature: Uint8Array,
  qualified = false,
): Uint8Array {
  const { request } = inputs;
  const leaf = chain[0] as Certificate;
  const requestExtensions = request.extensions
    ? (
        fromDer(
          Buffer.concat([Buffer.of(0x30), lengthOf(request.extensions), request.extensions]),
        ) as asn1js.Sequence
      ).valueBlock.value.map((schema) => new pkijs.Extension({ schema }))
    : [];
  // ETSI EN 319 422 section 9.1: qcStatements { QCStatement { esi4-qtstStatement-1 } }.
  const qualifiedStatement = new pkijs.Extension({
    extnID: '1.3.6.1.5.5.7.1.3',
    critical: false,
    extnValue: new asn1js.Sequence({
      value: [
        new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: '0.4.0.19422.1.1' })] }),
      ],
    }).toBER(),
  });
  const extensions = [...requestExtensions, ...(qualified ? [qualifiedStatement] : [])];
  const tstInfo = new pkijs.TSTInfo({
    version: 1,
    policy: request.reqPolicy ? toDotted(request.reqPolicy) : OID.sigstoreTsaPolicy,
    messageImprint: new pkijs.MessageImprint({
      // The request's parameters: absent stays absent, NULL stays NULL (RFC 3161 section 2.4.2).
      hashAlgorithm: algorithm(request.hash.oid, request.hashParameters !== undefined),
      hashedMessage: new asn1js.OctetString({ valueHex: view(request.hashedMessage) }),
    }),
    serialNumber: asn1js.Integer.fromBigInt(BigInt(`0x${toHex(inputs.serialNumber)}`)),
    genTime: inputs.genTime,
    accuracy: new pkijs.Accuracy({ seconds: 1 }),
    ...(request.nonce ? { nonce: fromDer(request.nonce) as asn1js.Integer } : {}),
    tsa: new pkijs.GeneralName({
      type: 4,
      value: new pkijs.RelativeDistinguishedNames({ schema: fromDer(leaf.subject) }),
    }),
    ...(extensions.length > 0 ? { extensions } : {}),
  });
  const tstInfoDer = new Uint8Array(tstInfo.toSchema().toBER());
  const signedData = new pkijs.SignedData({
    version: 3,
    digestAlgorithms: [algorithm(HASHES[signerHash].oid, false)],
    encapContentInfo: new pkijs.EncapsulatedContentInfo({
      eContentType: OID.tstInfo,
      eContent: new asn1js.OctetString({ valueHex: view(tstInfoDer) }),
    }),
    ...(request.certReq
      ? {
          certificates: (includeChain ? chain : [leaf]).map(
            (c) => new pkijs.Certificate({ schema: fromDer(c.der) }),
          ),
        }
      : {}),
    signerInfos: [
      new pkijs.SignerInfo({
        version: 1,
        sid: new pkijs.IssuerAndSerialNumber({
          issuer: new pkijs.RelativeDistinguishedNames({ schema: fromDer(leaf.issuer) }),
          serialNumber: fromDer(leaf.serialNumber) as asn1js.Integer,
        }),
        digestAlgorithm: algorithm(HASHES[signerHash].oid, false),
        signedAttrs: new pkijs.SignedAndUnsignedAttributes({
          type: 0,
          attributes: attributes.map((a) => new pkijs.Attribute({ schema: fromDer(a) })),
        }),
        signatureAlgorithm: algorithm(signatureOid, false),
        signature: new asn1js.OctetString({ valueHex: view(signature) }),
      }),
    ],
  });
  // PKI.js's constructor turns eContent into a constructed (BER) OCTET STRING; DER, Go and we use
  // the primitive form (sigstore-conformance #118), so set it after construction.
  signedData.encapContentInfo.eContent = new asn1js.OctetString({ valueHex: view(tstInfoDer) });
  const contentInfo = new pkijs.ContentInfo({
    contentType: OID.signedData,
    content: signedData.toSchema(true),
  });
  return new Uint8Array(
    new asn1js.Sequence({
      value: [
        new asn1js.Sequence({ value: [new asn1js.Integer({ value: 0 })] }),
        contentInfo.toSchema(),
      ],
    }).toBER(),
  );
}

function lengthOf(content: Uint8Array): Buffer {
  const n = content.length;
  return n < 0x80
    ? Buffer.of(n)
    : n < 0x100
      ? Buffer.of(0x81, n)
      : Buffer.of(0x82, n >> 8, n & 0xff);
}

const toDotted = (policyTlv: Uint8Array) =>
  (fromDer(policyTlv) as asn1js.ObjectIdentifier).valueBlock.toString();

const arbitraryRequest = fc.record({
  hash: fc.constantFrom(...HASH_NAMES),
  seed: fc.uint8Array({ minLength: 1, maxLength: 16 }),
  policy: fc.option(fc.constantFrom(OID.sigstoreTsaPolicy, '1.2.3.4', '2.999.1234567.8'), {
    nil: undefined,
  }),
  noNullParameters: fc.boolean(),
  nonce: fc.option(fc.bigInt({ min: -(1n << 511n), max: (1n << 511n) - 1n }), { nil: undefined }),
  certReq: fc.boolean(),
  // Accepted extensions: non-critical, one per OID.
  extensions: fc.option(
    fc.uniqueArray(
      fc.record({
        oid: fc.constantFrom('1.2.3.4', '1.3.6.1.4.1.99999.1', '2.999.7'),
        value: fc.uint8Array({ maxLength: 40 }),
      }),
      { minLength: 1, maxLength: 3, selector: (extension) => extension.oid },
    ),
    { nil: undefined },
  ),
  serialNumber: fc
    .uint8Array({ minLength: 20, maxLength: 20 })
    .filter((s) => s.some((b) => b !== 0)),
  genTime: fc.date({
    min: new Date('1990-01-01T00:00:00Z'),
    max: new Date('2080-12-31T23:59:59Z'),
    noInvalidDate: true,
  }),
});

describe('TokenEncoder', () => {
  let chain: Certificate[];
  let memory: Awaited<ReturnType<typeof createMemorySigner>>;
  beforeAll(async () => {
    memory = await createMemorySigner('sha256');
    chain = memory.chain.map(parseCertificate);
  });

  const policy = {
    acceptedPolicies: new Set(
      [OID.sigstoreTsaPolicy, '1.2.3.4', '2.999.1234567.8'].map((p) => toHex(oid(p))),
    ),
    allowCustomExtensions: true,
  };

  it('encodes exactly what PKI.js encodes for the same inputs, qualified or not', async () => {
    for (const [includeChain, qualified] of [
      [false, false],
      [true, false],
      [false, true],
    ] as const) {
      const encoder = new TokenEncoder({
        signer: memory.signer,
        chain,
        defaultPolicy: oid(OID.sigstoreTsaPolicy),
        accuracySeconds: 1,
        includeChain,
        qualified,
      });
      await fc.assert(
        fc.asyncProperty(arbitraryRequest, async (spec) => {
          const der = encodeRequest({
            ...spec,
            digest: createHash(spec.hash).update(spec.seed).digest(),
          });
          const request = checkTimeStampReq(parseTimeStampReq(der), policy);
          const genTime = new Date(Math.floor(spec.genTime.getTime() / 1000) * 1000);
          const inputs = { request, serialNumber: spec.serialNumber, genTime };
          const tstInfo = encoder.encodeTstInfo(inputs);
          const attributes = encoder.encodeSignedAttributes(tstInfo, genTime);
          const signature = Buffer.from('stand-in signature');
          const ours = encoder.assemble(tstInfo, attributes, signature, request.certReq);
          const theirs = pkijsResponse(
            inputs,
            chain,
            'sha256',
            OID.ecdsaWithSHA256,
            includeChain,
            attributes,
            signature,
            qualified,
          );
          expect(toHex(ours)).toBe(toHex(theirs));
        }),
        { numRuns: 150 },
      );
    }
  });

  it('signs DER-sorted signed attributes whose messageDigest and ESS hash are right', async () => {
    const encoder = new TokenEncoder({
      signer: memory.signer,
      chain,
      defaultPolicy: oid(OID.sigstoreTsaPolicy),
      accuracySeconds: 1,
      includeChain: false,
    });
    const request = checkTimeStampReq(
      parseTimeStampReq(encodeRequest({ nonce: 5n, certReq: true })),
      policy,
    );
    const token = await encoder.encode({
      request,
      serialNumber: Buffer.alloc(20, 0x81),
      genTime: new Date('2030-06-01T12:00:00Z'),
    });
    const decoded = decodeResponse(token);
    const signerInfo = decoded.signedData?.signerInfos[0];
    const attributes = signerInfo?.signedAttrs?.attributes ?? [];
    expect(attributes.map((a) => a.type).sort()).toEqual(
      [OID.contentType, OID.messageDigest, OID.signingTime, OID.signingCertificateV2].sort(),
    );
    const encoded = attributes.map((a) => Buffer.from(a.toSchema().toBER()));
    expect([...encoded].sort(Buffer.compare)).toEqual(encoded);

    const valueOf = (type: string) => attributes.find((a) => a.type === type)?.values[0];
    const messageDigest = valueOf(OID.messageDigest) as asn1js.OctetString;
    expect(Buffer.from(messageDigest.valueBlock.valueHexView)).toEqual(
      createHash('sha256')
        .update(decoded.tstInfoDer as Uint8Array)
        .digest(),
    );
    const signingTime = valueOf(OID.signingTime) as asn1js.UTCTime;
    expect(signingTime.toDate().toISOString()).toBe('2030-06-01T12:00:00.000Z');
    // SigningCertificateV2 > certs > ESSCertIDv2 > certHash (SHA-256 by DEFAULT)
    const essCertId = (
      (valueOf(OID.signingCertificateV2) as asn1js.Sequence).valueBlock.value[0] as asn1js.Sequence
    ).valueBlock.value[0] as asn1js.Sequence;
    const certHash = essCertId.valueBlock.value[0] as asn1js.OctetString;
    expect(Buffer.from(certHash.valueBlock.valueHexView)).toEqual(
      createHash('sha256').update(chain[0]!.der).digest(),
    );

    // The signature covers the attributes as a SET (tag 0x31), verified with Node crypto.
    const signedAttrsDer = Buffer.from(signerInfo!.signedAttrs!.toSchema().toBER());
    signedAttrsDer[0] = 0x31;
    const signature = Buffer.from(signerInfo!.signature.valueBlock.valueHexView);
    expect(verify('sha256', signedAttrsDer, chain[0]!.x509.publicKey, signature)).toBe(true);
    expect(signerInfo?.signatureAlgorithm.algorithmId).toBe(OID.ecdsaWithSHA256);
    expect(signerInfo?.signatureAlgorithm.algorithmParams).toBeUndefined();
  });

  it('encodes signingTime as GeneralizedTime from 2050 (RFC 5652)', async () => {
    const encoder = new TokenEncoder({
      signer: memory.signer,
      chain,
      defaultPolicy: oid(OID.sigstoreTsaPolicy),
      accuracySeconds: 1,
      includeChain: false,
    });
    const request = checkTimeStampReq(parseTimeStampReq(encodeRequest()), policy);
    const attributes = encoder.encodeSignedAttributes(
      Buffer.alloc(1),
      new Date('2051-01-01T00:00:00Z'),
    );
    const signingTime = attributes.find((a) => a.includes(oidContent(OID.signingTime)));
    expect(signingTime?.includes(Buffer.from('20510101000000Z'))).toBe(true);
    expect(request.hash.name).toBe('sha256');
  });

  it('signs the per-second template with the digest written in: the sorted SET, byte for byte', async () => {
    for (const hash of HASH_NAMES) {
      const signer = await createMemorySigner(hash);
      const encoder = new TokenEncoder({
        signer: signer.signer,
        chain: signer.chain.map(parseCertificate),
        defaultPolicy: oid(OID.sigstoreTsaPolicy),
        accuracySeconds: 1,
        includeChain: false,
      });
      fc.assert(
        fc.property(
          fc.uint8Array({ minLength: 1, maxLength: 300 }),
          // Both sides of 2050, where signingTime turns GeneralizedTime and changes length.
          fc.date({
            min: new Date('1990-01-01Z'),
            max: new Date('2200-01-01Z'),
            noInvalidDate: true,
          }),
          (tstInfo, date) => {
            const genTime = new Date(Math.floor(date.getTime() / 1000) * 1000);
            const reference = Buffer.concat(encoder.encodeSignedAttributes(tstInfo, genTime));
            const fast = encoder.signedAttributes(tstInfo, genTime);
            expect(toHex(fast.subarray(fast.length - reference.length))).toBe(toHex(reference));
            expect(readElement(fast).end).toBe(fast.length);
            expect(fast[0]).toBe(0x31);
          },
        ),
        { numRuns: 100 },
      );
    }
  });

  it('never emits an empty certificates SET and embeds the chain leaf first', async () => {
    const encoder = new TokenEncoder({
      signer: memory.signer,
      chain,
      defaultPolicy: oid(OID.sigstoreTsaPolicy),
      accuracySeconds: 1,
      includeChain: true,
    });
    const withoutCerts = checkTimeStampReq(
      parseTimeStampReq(encodeRequest({ certReq: false })),
      policy,
    );
    const token = await encoder.encode({
      request: withoutCerts,
      serialNumber: Buffer.alloc(20, 1),
      genTime: new Date(),
    });
    expect(decodeResponse(token).signedData?.certificates).toBeUndefined();
    expect(readElement(token).end).toBe(token.length);
  });
});

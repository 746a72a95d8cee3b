import * as asn1js from 'asn1js';
import fc from 'fast-check';
import * as pkijs from 'pkijs';
import { integerToBigInt, readElement } from '../../src/asn1/der.js';
import { httpStatusOf } from '../../src/server/http-outcome.js';
import { parseJsonTimeStampReq } from '../../src/tsp/json-request.js';
import { TimeStampRejection } from '../../src/tsp/rejection.js';
import {
  checkTimeStampReq,
  parseTimeStampReq,
  type RequestPolicy,
  type TimeStampReq,
} from '../../src/tsp/request.js';
import { encodeTimeStampReq } from '../helpers/encode-request.js';
import { derSeeds, jsonSeeds } from '../helpers/seeds.js';
import { createTestServer } from '../helpers/tsa.js';
import { mutatedInput } from './der-mutations.js';
import { jsonInput } from './json-mutations.js';

/** The default server's request policy (sigstore policy accepted, no extensions). */
const POLICY: RequestPolicy = {
  acceptedPolicies: new Set(['06092b0601040183bf300102']),
  allowCustomExtensions: false,
};

const derInputs = fc.oneof(
  { weight: 8, arbitrary: mutatedInput([...derSeeds.values()]) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 128 }).map((bytes) => Buffer.from(bytes)) },
);
const jsonInputs = jsonInput([...jsonSeeds.values()]);

/** A rejection must be a TimeStampRejection with a 4xx status; anything else is a finding. */
function expectClientRejection(error: unknown): void {
  if (!(error instanceof TimeStampRejection)) throw error;
  const status = httpStatusOf(error.failInfo);
  if (status < 400 || status > 499) {
    throw new Error(`client input produced HTTP ${status} (${error.failInfo})`, {
      cause: error,
    });
  }
}

/**
 * A strict DER parser accepts only canonical encodings, so what it accepts must re-encode to the
 * same bytes (up to the liberties it allows: NULL or absent hash parameters, an explicit certReq
 * FALSE; other hash parameters are kept as received and refused by the checks).
 */
function expectCanonical(input: Uint8Array, request: TimeStampReq): void {
  if (request.version === -1n) return; // multi-octet versions are not kept (refused as badRequest)
  const base = {
    version: request.version,
    hashAlgorithmOid: request.hashAlgorithmOid,
    hashedMessage: request.hashedMessage,
    ...(request.reqPolicy ? { reqPolicy: readElement(request.reqPolicy).value } : {}),
    ...(request.nonce ? { nonce: integerToBigInt(readElement(request.nonce).value) } : {}),
    ...(request.extensions ? { extensionsContent: request.extensions } : {}),
    ...(request.hashParameters ? { hashParameters: request.hashParameters } : {}),
  };
  const certReqs = request.certReq ? [true] : [undefined, false];
  for (const hashParametersNull of [true, false]) {
    for (const certReq of certReqs) {
      const encoded = encodeTimeStampReq({
        ...base,
        hashParametersNull,
        ...(certReq === undefined ? {} : { certReq }),
      });
      if (encoded.equals(input)) return;
    }
  }
  throw new Error(`accepted a non-canonical encoding: ${Buffer.from(input).toString('hex')}`);
}

export function checkDerInput(input: Uint8Array): void {
  let parsed: TimeStampReq;
  try {
    parsed = parseTimeStampReq(input);
  } catch (error) {
    expectClientRejection(error);
    return;
  }
  expectCanonical(input, parsed);
  try {
    checkTimeStampReq(parsed, POLICY);
  } catch (error) {
    expectClientRejection(error);
  }
}

export function checkJsonInput(input: Uint8Array): void {
  try {
    checkTimeStampReq(parseJsonTimeStampReq(input), POLICY);
  } catch (error) {
    expectClientRejection(error);
  }
}

const CONTENT_TYPES = [
  'application/timestamp-query',
  'application/json',
  'Application/Timestamp-Query; charset=binary',
  'application/json; charset=utf-8',
  'text/plain',
  'application/octet-stream',
  '',
  'application/timestamp-query, application/json',
  `application/json; ${'x'.repeat(10_000)}`,
  '\u00e9/\u00e9',
];

/** A fuzz target: a fast-check property and its setup/teardown. */
export interface FuzzTarget {
  name: string;
  setUp(): Promise<fc.IRawProperty<never>>;
  tearDown(): Promise<void>;
}

export const derTarget: FuzzTarget = {
  name: 'der',
  setUp: async () =>
    fc.property(derInputs, (input) => checkDerInput(input)) as unknown as fc.IRawProperty<never>,
  tearDown: async () => {},
};

export const jsonTarget: FuzzTarget = {
  name: 'json',
  setUp: async () =>
    fc.property(jsonInputs, (input) => checkJsonInput(input)) as unknown as fc.IRawProperty<never>,
  tearDown: async () => {},
};

/**
 * A granted answer must be a TimeStampResp that PKI.js reads, whose TSTInfo carries the request's
 * imprint and nonce: the token encoder fed with whatever the fuzzer got accepted.
 */
function checkGrantedToken(requestBody: Uint8Array, format: 'der' | 'json', token: Buffer): void {
  const request =
    format === 'der' ? parseTimeStampReq(requestBody) : parseJsonTimeStampReq(requestBody);
  const asn1 = asn1js.fromBER(new Uint8Array(token).buffer);
  if (asn1.offset !== token.length) throw new Error('granted token is not one DER element');
  const response = new pkijs.TimeStampResp({ schema: asn1.result });
  if (response.status.status !== pkijs.PKIStatus.granted || !response.timeStampToken) {
    throw new Error('200 without a granted token');
  }
  const signedData = new pkijs.SignedData({ schema: response.timeStampToken.content });
  const eContent = signedData.encapContentInfo.eContent;
  if (!eContent) throw new Error('token without TSTInfo');
  const tstInfo = pkijs.TSTInfo.fromBER(eContent.getValue());
  const imprint = Buffer.from(tstInfo.messageImprint.hashedMessage.getValue());
  if (!imprint.equals(Buffer.from(request.hashedMessage)))
    throw new Error('TSTInfo imprint differs from the request');
  const nonce = tstInfo.nonce ? Buffer.from(tstInfo.nonce.toBER()) : undefined;
  if (
    Boolean(nonce) !== Boolean(request.nonce) ||
    (nonce && !nonce.equals(Buffer.from(request.nonce ?? [])))
  ) {
    throw new Error('TSTInfo nonce differs from the request');
  }
}

/**
 * The whole HTTP handler (Fastify's inject: routing, content-type parsing, body limit, issue),
 * on a default server and on one that copies request extensions into tokens.
 */
export function httpTarget(): FuzzTarget {
  let close = async (): Promise<void> => {};
  return {
    name: 'http',
    setUp: async () => {
      // Go's status codes, so that 200 means granted for DER requests too.
      const strict = await createTestServer({ maxRequestBodySize: 4096, derRejectionStatus: 'go' });
      const lenient = await createTestServer({
        maxRequestBodySize: 4096,
        allowCustomExtensions: true,
        derRejectionStatus: 'go',
      });
      close = async () => {
        await strict.app.close();
        await lenient.app.close();
      };
      const body = fc.oneof(derInputs, jsonInputs);
      const contentType = fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
        { weight: 1, arbitrary: fc.string({ maxLength: 60 }) },
      );
      return fc.asyncProperty(
        body,
        contentType,
        fc.boolean(),
        async (payload, type, useLenient) => {
          const headers: Record<string, string> = {};
          // inject refuses header values Node would not send; those never reach the server anyway.
          if (type !== '' && /^[\t\x20-\x7e\x80-\xff]*$/.test(type)) headers['content-type'] = type;
          const { app } = useLenient ? lenient : strict;
          const response = await app.inject({
            method: 'POST',
            url: '/api/v1/timestamp',
            headers,
            payload,
          });
          if (response.statusCode < 200 || response.statusCode > 499) {
            throw new Error(`HTTP ${response.statusCode}: ${response.body.slice(0, 200)}`);
          }
          if (response.statusCode === 200) {
            const format = headers['content-type']?.toLowerCase().includes('json') ? 'json' : 'der';
            checkGrantedToken(payload, format, response.rawPayload);
          }
        },
      ) as unknown as fc.IRawProperty<never>;
    },
    tearDown: () => close(),
  };
}

import fc from 'fast-check';
import { integerToBigInt, readElement } from '../../src/asn1/der.js';
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
  if (error.httpStatus < 400 || error.httpStatus > 499) {
    throw new Error(`client input produced HTTP ${error.httpStatus} (${error.failInfo})`, {
      cause: error,
    });
  }
}

/**
 * A strict DER parser accepts only canonical encodings, so what it accepts must re-encode to the
 * same bytes (up to the two liberties it allows: NULL hash parameters, an explicit certReq FALSE).
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

/** The whole HTTP handler (Fastify's inject: routing, content-type parsing, body limit, issue). */
export function httpTarget(): FuzzTarget {
  let close = async (): Promise<void> => {};
  return {
    name: 'http',
    setUp: async () => {
      const { app } = await createTestServer({ maxRequestBodySize: 4096 });
      close = () => app.close();
      const body = fc.oneof(derInputs, jsonInputs);
      const contentType = fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
        { weight: 1, arbitrary: fc.string({ maxLength: 60 }) },
      );
      return fc.asyncProperty(body, contentType, async (payload, type) => {
        const headers: Record<string, string> = {};
        // inject refuses header values Node would not send; those never reach the server anyway.
        if (type !== '' && /^[\t\x20-\x7e\x80-\xff]*$/.test(type)) headers['content-type'] = type;
        const response = await app.inject({
          method: 'POST',
          url: '/api/v1/timestamp',
          headers,
          payload,
        });
        if (response.statusCode < 200 || response.statusCode > 499) {
          throw new Error(`HTTP ${response.statusCode}: ${response.body.slice(0, 200)}`);
        }
      }) as unknown as fc.IRawProperty<never>;
    },
    tearDown: () => close(),
  };
}

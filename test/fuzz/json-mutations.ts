import fc from 'fast-check';
import { mutationArbitrary, applyMutation } from './der-mutations.js';

/**
 * JSON requests for the fuzzer: the seeds under byte mutations, and generated documents whose
 * keys are the Go request's field names (any case, duplicated, prototype names) and whose values
 * are the troublesome ones (huge numbers, exponents, wrong types, bad base64, deep nesting).
 */

const FIELDS = ['artifactHash', 'hashAlgorithm', 'certificates', 'nonce', 'tsaPolicyOID'];
const key = fc.oneof(
  fc.constantFrom(...FIELDS),
  fc
    .constantFrom(...FIELDS)
    .chain((name) =>
      fc
        .array(fc.boolean(), { minLength: name.length, maxLength: name.length })
        .map((upper) =>
          [...name].map((c, i) => (upper[i] ? c.toUpperCase() : c.toLowerCase())).join(''),
        ),
    ),
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', ''),
  fc.string({ maxLength: 12 }),
);

/** Values as raw JSON text, so numbers JSON.stringify cannot write (1e400, 10^5000) are included. */
const rawValue: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(
      'true',
      'false',
      'null',
      '0',
      '-0',
      '1e400',
      '-1e400',
      '1.5',
      '1E2',
      '9007199254740993',
      '0.0000001',
    ),
    fc.bigInt({ min: -(1n << 300n), max: 1n << 300n }).map(String),
    fc.integer({ min: 1, max: 3000 }).map((digits) => '9'.repeat(digits)),
    fc.constantFrom(
      '"sha256"',
      '"SHA512"',
      '"sha1"',
      '"md5"',
      '""',
      '"1.2.3"',
      '"1.3.6.1.4.1.57264.2"',
      '"2.999999999999999999999"',
      '"-1.2"',
    ),
    fc
      .uint8Array({ maxLength: 80 })
      .map((bytes) => JSON.stringify(Buffer.from(bytes).toString('base64'))),
    fc.string({ maxLength: 40 }).map((text) => JSON.stringify(text)),
    fc.constantFrom('"\\ud800"', '"\\u0000"', '"a\\u0000b"', '"=="', '"YQ"', '"YQ=="'),
    fc.array(tie('value'), { maxLength: 3 }).map((items) => `[${items.join(',')}]`),
    fc.integer({ min: 1, max: 200 }).map((depth) => '['.repeat(depth) + ']'.repeat(depth)),
  ),
})).value;

const generatedDocument: fc.Arbitrary<Buffer> = fc
  .array(fc.tuple(key, rawValue), { maxLength: 8 })
  .map((entries) =>
    Buffer.from(
      `{${entries.map(([name, value]) => `${JSON.stringify(name)}:${value}`).join(',')}}`,
    ),
  );

export function jsonInput(seeds: readonly Buffer[]): fc.Arbitrary<Buffer> {
  const mutatedSeed = fc
    .tuple(fc.constantFrom(...seeds), fc.array(mutationArbitrary, { minLength: 1, maxLength: 4 }))
    .map(([seed, mutations]) =>
      mutations.reduce((input, mutation) => applyMutation(input, mutation, seed), seed),
    );
  return fc.oneof(generatedDocument, mutatedSeed);
}

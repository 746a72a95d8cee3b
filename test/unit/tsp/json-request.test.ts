import { describe, expect, it } from 'vitest';
import { HASHES } from '../../../src/asn1/algorithms.js';
import { integer, oid, oidContent } from '../../../src/asn1/der.js';
import { acceptedExtensionSet } from '../../../src/tsp/extension-policy.js';
import { signerAvailabilityGuard } from '../../../src/tsp/guards.js';
import {
  MAX_JSON_OID_COMPONENTS,
  MAX_JSON_REQUEST_BYTES,
  parseJsonTimeStampReq,
} from '../../../src/tsp/json-request.js';
import { TokenProfileError } from '../../../src/tsp/profile-error.js';
import { TimeStampRejection } from '../../../src/tsp/rejection.js';
import { MAX_NONCE_OCTETS } from '../../../src/tsp/request.js';

const DIGEST = Buffer.alloc(32, 7).toString('base64');
const parse = (body: unknown) =>
  parseJsonTimeStampReq(Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)));

/** The rejection `run` throws, as plain data. */
function refusal(run: () => unknown) {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(TimeStampRejection);
    const { code, message, detail } = error as TimeStampRejection;
    return { code, message, detail };
  }
  throw new Error('expected a rejection');
}

describe('the JSON request (the Go server’s body)', () => {
  it('reads every field; names match case-insensitively and the last duplicate wins', () => {
    const request = parseJsonTimeStampReq(
      Buffer.from(
        `{"artifacthash": "AAAA", "ArtifactHash": "${DIGEST}", "HASHALGORITHM": "SHA256",` +
          ` "certificates": true, "nonce": 1234, "tsaPolicyOID": "1.2.3.4"}`,
      ),
    );
    expect(request.hashAlgorithmOid).toEqual(oidContent(HASHES.sha256.oid));
    expect(Buffer.from(request.hashedMessage).toString('base64')).toBe(DIGEST);
    expect(request.certReq).toBe(true);
    expect(request.nonce).toEqual(integer(1234n));
    expect(request.reqPolicy).toEqual(oid('1.2.3.4'));
  });

  it("matches names as Go's case fold does: the Kelvin sign, the long s, İ and ı are k, s and i", () => {
    const request = parse(
      `{"artifactHash":"AAAA","art\u0131factHa\u017fh":"${DIGEST}",` +
        `"ha\u017fhAlgor\u0130thm":"sha256","nonce":1,"t\u017faPol\u0131cyOID":"1.2.3.4",` +
        `"certificates":false,"certificate\u017f":true,"\u212aey":"ignored"}`,
    );
    expect(request.certReq).toBe(true);
    expect(request.reqPolicy).toEqual(oid('1.2.3.4'));
    expect(Buffer.from(request.hashedMessage).toString('base64')).toBe(DIGEST);
  });

  it('takes the last value in document order, across spellings of a name', () => {
    // Go assigns fields as it reads them: NONCE=2, nonce=1, NONCE=3 gives 3.
    const request = parse(
      `{"NONCE":2,"artifactHash":"${DIGEST}","hashAlgorithm":"sha256","nonce":1,"NONCE":3}`,
    );
    expect(request.nonce).toEqual(integer(3n));
  });

  it('accepts what Go accepts in fields it ignores and in base64', () => {
    const body = (extra: string, hash = DIGEST) =>
      Buffer.concat([
        Buffer.from(`{"artifactHash":"${hash}","hashAlgorithm":"sha256",`),
        Buffer.from(extra, 'latin1'),
        Buffer.from('}'),
      ]);
    // Invalid UTF-8 (Go reads it as U+FFFD), and nesting deeper than a small parser would allow.
    expect(parseJsonTimeStampReq(body('"x":"\xff"')).hashedMessage).toEqual(
      Buffer.from(DIGEST, 'base64'),
    );
    expect(
      parseJsonTimeStampReq(body(`"x":${'['.repeat(100)}${']'.repeat(100)}`)).hashedMessage,
    ).toEqual(Buffer.from(DIGEST, 'base64'));
    // base64.StdEncoding skips CR and LF.
    const wrapped = `${DIGEST.slice(0, 20)}\\r\\n${DIGEST.slice(20)}`;
    expect(parseJsonTimeStampReq(body('"y":0', wrapped)).hashedMessage).toEqual(
      Buffer.from(DIGEST, 'base64'),
    );
    // Where a field must hold a known value, U+FFFD is still refused.
    expect(refusal(() => parseJsonTimeStampReq(body('"hashAlgorithm":"sha256\xff"'))).code).toBe(
      'badAlg',
    );
  });

  it('reads a later null as Go does: a string or boolean keeps its value, the nonce is cleared', () => {
    const request = parse(
      `{"artifactHash":"${DIGEST}","hashAlgorithm":"sha256","hashAlgorithm":null,` +
        `"certificates":true,"Certificates":null,"tsaPolicyOID":"1.2.3.4","tsaPolicyOID":null,` +
        `"nonce":5,"NONCE":null}`,
    );
    expect(request.hashAlgorithmOid).toEqual(oidContent(HASHES.sha256.oid));
    expect(request.certReq).toBe(true);
    expect(request.reqPolicy).toEqual(oid('1.2.3.4'));
    expect(request.nonce).toBeUndefined();
  });

  it.each([
    [
      'a number, then the string',
      '"hashAlgorithm":5,"hashAlgorithm":"sha256"',
      'hashAlgorithm must be a string',
    ],
    [
      'a string, then true',
      '"hashAlgorithm":"sha256","certificates":"yes","certificates":true',
      'certificates must be a boolean',
    ],
    [
      'the first of two type errors',
      '"hashAlgorithm":"sha256","certificates":1,"tsaPolicyOID":[]',
      'certificates must be a boolean',
    ],
  ])(
    'refuses a field of the wrong type even where a later duplicate is right, as Go: %s',
    (_what, members, detail) => {
      expect(refusal(() => parse(`{"artifactHash":"${DIGEST}",${members}}`))).toEqual({
        code: 'badDataFormat',
        message: 'Error generating timestamp response',
        detail: `malformed request: ${detail}`,
      });
    },
  );

  it('refuses a nonce that is not an integer even where a later one is (big.Int fails the decoding)', () => {
    expect(
      refusal(() =>
        parse(`{"artifactHash":"${DIGEST}","hashAlgorithm":"sha256","nonce":1.5,"nonce":3}`),
      ).detail,
    ).toBe('malformed request: nonce must be an integer');
  });

  it('leaves out what is absent or null', () => {
    const request = parse({ artifactHash: DIGEST, hashAlgorithm: 'sha512', nonce: null });
    expect(request.certReq).toBe(false);
    expect(request.nonce).toBeUndefined();
    expect(request.reqPolicy).toBeUndefined();
  });

  it('takes any positive 512-bit nonce (65 INTEGER octets with its top bit set)', () => {
    const nonce = (1n << 512n) - 1n;
    const request = parse(`{"artifactHash":"${DIGEST}","hashAlgorithm":"sha256","nonce":${nonce}}`);
    expect(request.nonce).toEqual(integer(nonce));
  });

  it('refuses a body over the cap before reading it', () => {
    expect(refusal(() => parse(' '.repeat(MAX_JSON_REQUEST_BYTES + 1)))).toEqual({
      code: 'badDataFormat',
      message: 'timestamp request is too large',
      detail: undefined,
    });
  });

  it.each([
    ['not JSON', '{', 'malformed request: not a JSON object'],
    ['not UTF-8', Buffer.from([0x7b, 0xff, 0x7d]).toString('latin1'), undefined],
    ['an array', '[]', 'malformed request: not a JSON object'],
    ['a number', '12', 'malformed request: not a JSON object'],
    ['null', 'null', 'malformed request: not a JSON object'],
    [
      'a hash name that is not a string',
      { hashAlgorithm: 1 },
      'malformed request: hashAlgorithm must be a string',
    ],
    [
      'certificates that is not a boolean',
      { certificates: 'yes' },
      'malformed request: certificates must be a boolean',
    ],
    [
      'a nonce that is not an integer',
      { hashAlgorithm: 'sha256', nonce: 1.5 },
      'malformed request: nonce must be an integer',
    ],
    [
      'a nonce given as a string',
      { hashAlgorithm: 'sha256', nonce: '1' },
      'malformed request: nonce must be an integer',
    ],
    [
      `a nonce over ${MAX_NONCE_OCTETS} octets`,
      `{"hashAlgorithm":"sha256","nonce":${(1n << BigInt(8 * MAX_NONCE_OCTETS)).toString()}}`,
      `malformed request: nonce longer than ${MAX_NONCE_OCTETS} octets`,
    ],
    [
      'an artifactHash that is not base64',
      { hashAlgorithm: 'sha256', artifactHash: 'a-b_' },
      'malformed request: artifactHash is not base64',
    ],
  ])('refuses %s as badDataFormat', (_what, body, detail) => {
    const refused = refusal(() => parse(body));
    expect(refused.code).toBe('badDataFormat');
    if (detail) expect(refused.detail).toBe(detail);
  });

  it('refuses an unknown hash as badAlg', () => {
    expect(refusal(() => parse({ hashAlgorithm: 'md5', artifactHash: DIGEST })).code).toBe(
      'badAlg',
    );
  });

  it.each([
    ['a valid request', { artifactHash: Buffer.alloc(20).toString('base64') }],
    ['an artifactHash that is not base64', { artifactHash: '@@@@' }],
    ['a malformed tsaPolicyOID', { artifactHash: 'AAAA', tsaPolicyOID: '1.2.x' }],
    ['both', { artifactHash: '@@@@', tsaPolicyOID: '1.2.x' }],
  ])(
    "refuses SHA-1 (any case) with Go's weak-hash message before the other fields: %s",
    (_what, body) => {
      for (const hashAlgorithm of ['sha1', 'SHA1', 'Sha1']) {
        expect(refusal(() => parse({ hashAlgorithm, ...body }))).toEqual({
          code: 'badAlg',
          message: 'Weak hash algorithm in timestamp request',
          detail: undefined,
        });
      }
    },
  );

  it.each(['constructor', '__proto__', 'toString', 'valueOf', 'hasOwnProperty'])(
    'refuses hashAlgorithm %s (inherited by plain objects) as badAlg, like md5',
    (name) => {
      expect(refusal(() => parse({ hashAlgorithm: name, artifactHash: DIGEST }))).toEqual(
        refusal(() => parse({ hashAlgorithm: 'md5', artifactHash: DIGEST })),
      );
    },
  );

  it("takes a tsaPolicyOID of 129 components (128 dots), Go's limit", () => {
    expect(MAX_JSON_OID_COMPONENTS).toBe(129);
    const dotted = Array.from({ length: 129 }, () => '1').join('.');
    expect(parse({ hashAlgorithm: 'sha256', tsaPolicyOID: dotted }).reqPolicy).toEqual(oid(dotted));
  });

  it.each([
    ['130 components (129 dots)', Array.from({ length: 130 }, () => '1').join('.')],
    ['a component that is not a number', '1.2.x'],
    ['a component beyond int64', `1.2.${(1n << 63n).toString()}`],
  ])("refuses a tsaPolicyOID with %s with Go's OID message", (_what, dotted) => {
    expect(refusal(() => parse({ hashAlgorithm: 'sha256', tsaPolicyOID: dotted }))).toEqual({
      code: 'badDataFormat',
      message: 'OID should be comprised of at most 128 components',
      detail: undefined,
    });
  });

  it('reads tsaPolicyOID arcs as strconv.Atoi does: leading zeros of any length, a sign', () => {
    expect(
      parse({ hashAlgorithm: 'sha256', tsaPolicyOID: `1.2.3.${'0'.repeat(30)}5` }).reqPolicy,
    ).toEqual(oid('1.2.3.5'));
    expect(parse({ hashAlgorithm: 'sha256', tsaPolicyOID: '+1.2.3' }).reqPolicy).toEqual(
      oid('1.2.3'),
    );
  });

  it('reads a policy DER cannot express (a negative arc) as an empty one, never accepted', () => {
    expect(parse({ hashAlgorithm: 'sha256', tsaPolicyOID: '1.2.-3' }).reqPolicy).toEqual(
      new Uint8Array(0),
    );
  });
});

describe('the signer availability guard', () => {
  it('refuses with systemFailure while the signer says why, and opens again when it stops', () => {
    let reason: string | undefined = 'circuit breaker open';
    const guard = signerAvailabilityGuard(() => reason);
    expect(guard()?.code).toBe('systemFailure');
    expect(guard()?.failInfo).toBe('systemFailure');
    reason = undefined;
    expect(guard()).toBeUndefined();
  });

  it('flags a refusal temporary (HTTP 503) unless the signer says it will not end by itself', () => {
    let temporary = true;
    const guard = signerAvailabilityGuard(
      () => 'refused',
      () => temporary,
    );
    expect(guard()?.temporary).toBe(true);
    temporary = false;
    expect(guard()?.temporary).toBe(false);
    expect(guard()?.failInfo).toBe('systemFailure');
    expect(signerAvailabilityGuard(() => 'breaker open')()?.temporary).toBe(true);
  });
});

describe('the accepted extension OIDs', () => {
  it('are kept as OID content, hex', () => {
    expect([...acceptedExtensionSet(['1.2.3'])]).toEqual([oidContent('1.2.3').toString('hex')]);
  });

  it('refuse an invalid OID and qcStatements with a TokenProfileError code', () => {
    const codeOf = (dotted: string) => {
      try {
        acceptedExtensionSet([dotted]);
      } catch (error) {
        expect(error).toBeInstanceOf(TokenProfileError);
        return (error as TokenProfileError).code;
      }
      return undefined;
    };
    expect(codeOf('1.x')).toBe('INVALID_EXTENSION_OID');
    expect(codeOf('1.3.6.1.5.5.7.1.3')).toBe('EXTENSION_NEVER_ACCEPTED');
  });
});

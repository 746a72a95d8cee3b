/**
 * The request rules, one at a time: parseTimeStampReq's strict reading (badDataFormat) and
 * checkTimeStampReq's policy in the Go server's order, each with its failInfo, message and detail.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HASHES } from '../../../src/asn1/algorithms.js';
import { boolean, integer, oid, oidContent, sequence, toHex } from '../../../src/asn1/der.js';
import { OID } from '../../../src/asn1/oids.js';
import { GO_MESSAGES, TimeStampRejection } from '../../../src/tsp/rejection.js';
import {
  checkTimeStampReq,
  MAX_NONCE_OCTETS,
  MAX_OID_OCTETS,
  parseTimeStampReq,
  type RequestPolicy,
  type TimeStampReq,
} from '../../../src/tsp/request.js';
import { encodeTimeStampReq, type RequestFields } from '../../helpers/encode-request.js';

const POLICY: RequestPolicy = {
  acceptedPolicies: new Set([toHex(oid(OID.sigstoreTsaPolicy))]),
  acceptedExtensions: new Set([toHex(oidContent('1.2.3.4'))]),
  allowCustomExtensions: false,
};

const fields = (overrides: Partial<RequestFields> = {}): RequestFields => ({
  version: 1n,
  hashAlgorithmOid: oidContent(HASHES.sha256.oid),
  hashParametersNull: true,
  hashedMessage: createHash('sha256').update('x').digest(),
  ...overrides,
});

/** What `run` throws; fails the test if it returns. */
function thrownBy(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('nothing thrown');
}

/** The rejection that parse, then check, throws for these fields. */
const refusal = (overrides: Partial<RequestFields>): unknown =>
  thrownBy(() =>
    checkTimeStampReq(parseTimeStampReq(encodeTimeStampReq(fields(overrides))), POLICY),
  );

const malformed = (detail: string) => ({
  failInfo: 'badDataFormat',
  message: GO_MESSAGES.generic,
  detail: `malformed request: ${detail}`,
});

const hexOf = (bytes: Uint8Array | undefined) => (bytes ? toHex(bytes) : undefined);

describe('parseTimeStampReq: only DER of the TimeStampReq shape', () => {
  it.each<[string, Partial<RequestFields>, string]>([
    [
      'NULL parameters with content',
      { hashParameters: Uint8Array.of(0x05, 0x01, 0x00) },
      'NULL with content',
    ],
    [
      'a reqPolicy OID over 128 octets',
      { reqPolicy: new Uint8Array(MAX_OID_OCTETS + 1).fill(1) },
      'OID too long',
    ],
    [
      'an unterminated reqPolicy OID',
      { reqPolicy: Uint8Array.of(0x2a, 0x86) },
      'truncated OID arc',
    ],
    [
      'a nonce over 65 octets',
      { nonce: 1n << BigInt(8 * MAX_NONCE_OCTETS) },
      `nonce longer than ${MAX_NONCE_OCTETS} octets`,
    ],
    ['an empty extensions field', { extensionsContent: new Uint8Array() }, 'empty extensions'],
    // Go's parser refuses it before any hash rule: an empty SHA-1 digest is not a weak hash.
    ['an empty digest', { hashedMessage: new Uint8Array() }, 'no hashed message'],
    [
      'an empty SHA-1 digest',
      { hashAlgorithmOid: oidContent(OID.sha1), hashedMessage: new Uint8Array() },
      'no hashed message',
    ],
    [
      'an extension without extnValue',
      { extensionsContent: sequence(oid('1.2.3.4')) },
      'missing element',
    ],
  ])('refuses %s', (_name, overrides, detail) => {
    const error = refusal(overrides);
    expect(error).toBeInstanceOf(TimeStampRejection);
    expect(error).toMatchObject(malformed(detail));
  });

  it('leaves an error that is not the encoding’s (a detached buffer) to the caller, not badDataFormat', () => {
    const der = new Uint8Array(encodeTimeStampReq(fields()));
    structuredClone(der, { transfer: [der.buffer] });
    const error = thrownBy(() => parseTimeStampReq(der));
    expect(error).toBeInstanceOf(TypeError);
    expect(error).not.toBeInstanceOf(TimeStampRejection);
  });

  it('accepts any positive 512-bit nonce: 65 content octets when its top bit is set', () => {
    const nonce = (1n << 512n) - 1n;
    const der = integer(nonce);
    // INTEGER, 65 content octets: a zero sign octet, then 64 of 0xff.
    expect(der.subarray(0, 4).toString('hex')).toBe('024100ff');
    const parsed = parseTimeStampReq(encodeTimeStampReq(fields({ nonce })));
    expect(hexOf(parsed.nonce)).toBe(toHex(der));
  });

  it('accepts the largest nonce and keeps the fields as received', () => {
    const nonce = (1n << BigInt(8 * MAX_NONCE_OCTETS - 1)) - 1n;
    const parsed = parseTimeStampReq(encodeTimeStampReq(fields({ nonce, certReq: true })));
    expect(hexOf(parsed.nonce)).toBe(toHex(integer(nonce)));
    expect(parsed.certReq).toBe(true);
    expect(hexOf(parsed.hashParameters)).toBe('0500');
  });
});

describe('checkTimeStampReq: the Go server order and answers', () => {
  it.each<[string, Partial<RequestFields>, object]>([
    [
      'version 2',
      { version: 2n },
      { failInfo: 'badRequest', detail: 'TimeStampReq version must be 1' },
    ],
    [
      'SHA-1',
      { hashAlgorithmOid: oidContent(OID.sha1), hashedMessage: Buffer.alloc(20) },
      { failInfo: 'badAlg', message: GO_MESSAGES.weakHash, detail: undefined },
    ],
    [
      'an unknown hash',
      { hashAlgorithmOid: oidContent('1.2.3.4') },
      {
        failInfo: 'badAlg',
        message: GO_MESSAGES.generic,
        detail: 'unsupported hash algorithm: use SHA-256, SHA-384 or SHA-512',
      },
    ],
    [
      'parameters other than NULL',
      { hashParameters: oid('1.2.3') },
      { failInfo: 'badAlg', detail: 'hash algorithm parameters must be absent or NULL' },
    ],
    [
      'a digest of the wrong length',
      { hashedMessage: Buffer.alloc(31) },
      { failInfo: 'badDataFormat', message: GO_MESSAGES.digestLength },
    ],
    [
      'an unaccepted policy',
      { reqPolicy: oidContent('1.2.3.5') },
      { failInfo: 'unacceptedPolicy', message: GO_MESSAGES.unacceptedPolicy },
    ],
    [
      'a critical extension',
      { extensions: [{ oid: oidContent('1.2.3.4'), critical: true, value: Uint8Array.of(1) }] },
      {
        failInfo: 'unacceptedExtension',
        message: GO_MESSAGES.unacceptedExtension,
        detail: 'critical extensions are refused',
      },
    ],
  ])('refuses %s', (_name, overrides, expected) => {
    const error = refusal(overrides);
    expect(error).toBeInstanceOf(TimeStampRejection);
    expect(error).toMatchObject(expected);
  });

  it('refuses the version before the hash, and the digest length before the policy', () => {
    expect(refusal({ version: 0n, hashAlgorithmOid: oidContent(OID.sha1) })).toMatchObject({
      failInfo: 'badRequest',
    });
    expect(
      refusal({ hashedMessage: Buffer.alloc(1), reqPolicy: oidContent('1.2.3.5') }),
    ).toMatchObject({ failInfo: 'badDataFormat', message: GO_MESSAGES.digestLength });
  });

  it('accepts an accepted policy, absent parameters and an allowed extension, adding the hash', () => {
    const accepted = checkTimeStampReq(
      parseTimeStampReq(
        encodeTimeStampReq(
          fields({
            hashParametersNull: false,
            reqPolicy: oidContent(OID.sigstoreTsaPolicy),
            extensions: [{ oid: oidContent('1.2.3.4'), value: Uint8Array.of(1) }],
          }),
        ),
      ),
      POLICY,
    );
    expect(accepted.hash.name).toBe('sha256');
    expect(accepted.hashParameters).toBeUndefined();
    expect(hexOf(accepted.reqPolicy)).toBe(toHex(oid(OID.sigstoreTsaPolicy)));
  });

  it('refuses extensions that are not DER in a request it did not parse', () => {
    // checkTimeStampReq is exported: a TimeStampReq built by hand has its extensions read again.
    const request: TimeStampReq = {
      ...parseTimeStampReq(encodeTimeStampReq(fields())),
      extensions: sequence(oid('1.2.3.4'), boolean(false)),
    };
    const error = thrownBy(() => checkTimeStampReq(request, POLICY));
    expect(error).toBeInstanceOf(TimeStampRejection);
    expect(error).toMatchObject(malformed('missing element'));
  });
});

import { describe, expect, it } from 'vitest';
import { integer, NULL, octetString, oid, sequence } from '../../../src/asn1/der.js';
import { RequestVerificationError, verifyTimestampRequest } from '../../../src/index.js';

/** A TimeStampReq built by hand (not by the code under test). */
const request = (hashOid: string, digestLength: number) =>
  sequence(
    integer(1),
    sequence(sequence(oid(hashOid), NULL), octetString(Buffer.alloc(digestLength, 7))),
    integer(99),
  );

function code(tsq: Uint8Array): string {
  try {
    verifyTimestampRequest(tsq);
    return 'ok';
  } catch (error) {
    expect(error).toBeInstanceOf(RequestVerificationError);
    return (error as RequestVerificationError).code;
  }
}

describe('verifyTimestampRequest (Go VerifyRequest)', () => {
  it('accepts SHA-256, SHA-384 and SHA-512 with their digest lengths', () => {
    expect(code(request('2.16.840.1.101.3.4.2.1', 32))).toBe('ok');
    expect(code(request('2.16.840.1.101.3.4.2.2', 48))).toBe('ok');
    expect(code(request('2.16.840.1.101.3.4.2.3', 64))).toBe('ok');
    expect(verifyTimestampRequest(request('2.16.840.1.101.3.4.2.1', 32)).nonce).toBe(99n);
  });
  it('refuses SHA-1 as weak and SHA-224 as unsupported', () => {
    expect(code(request('1.3.14.3.2.26', 20))).toBe('weak-hash');
    expect(code(request('2.16.840.1.101.3.4.2.4', 28))).toBe('unsupported-hash');
  });
  it('refuses a SHA-256 request with a 31-byte digest', () => {
    expect(() => verifyTimestampRequest(request('2.16.840.1.101.3.4.2.1', 31))).toThrow(
      'digest length inconsistent with specified hash algorithm: expected 32 bytes, got 31 bytes',
    );
  });
  it('refuses garbage and trailing bytes', () => {
    expect(code(Buffer.from('not a request'))).toBe('malformed');
    expect(code(Buffer.concat([request('2.16.840.1.101.3.4.2.1', 32), Buffer.from([0])]))).toBe(
      'malformed',
    );
  });
  it('refuses BER that is not DER, as the TSA and Go do', () => {
    const der = request('2.16.840.1.101.3.4.2.1', 32);
    expect(code(der)).toBe('ok');
    const contents = der.subarray(2);
    const variants = {
      'an indefinite length': Buffer.concat([
        Buffer.from([0x30, 0x80]),
        contents,
        Buffer.from([0, 0]),
      ]),
      'a non-minimal length': Buffer.concat([Buffer.from([0x30, 0x81, contents.length]), contents]),
      'a padded nonce': sequence(
        integer(1),
        sequence(sequence(oid('2.16.840.1.101.3.4.2.1'), NULL), octetString(Buffer.alloc(32, 7))),
        Buffer.from([0x02, 0x02, 0x00, 0x05]),
      ),
      'certReq as 01': sequence(
        integer(1),
        sequence(sequence(oid('2.16.840.1.101.3.4.2.1'), NULL), octetString(Buffer.alloc(32, 7))),
        Buffer.from([0x01, 0x01, 0x01]),
      ),
    };
    for (const [what, tsq] of Object.entries(variants)) {
      expect(() => verifyTimestampRequest(tsq), what).toThrow(/not DER/);
      expect(code(tsq), what).toBe('malformed');
    }
  });
});

import { describe, expect, it } from 'vitest';
import { VerificationError } from '../../../src/verify/errors.js';
import { readTrustedRoot } from '../../../src/verify/trusted-root.js';
import { makePki } from '../../helpers/pki.js';

/**
 * A trusted_root.json's validFor times are RFC 3339 with Z or an offset (protobuf's JSON form of
 * a Timestamp). Date's parser read a time without a zone in the host's (whether a token verified
 * depended on TZ) and took "2020" or "Dec 1 2020", which its own error called RFC 3339.
 */
const pki = await makePki();

function readValidFor(validFor: Record<string, unknown>) {
  const [authority] = readTrustedRoot(
    JSON.stringify({
      timestampAuthorities: [
        {
          certChain: { certificates: [{ rawBytes: pki.leaf.der.toString('base64') }] },
          validFor,
        },
      ],
    }),
  );
  return authority;
}

function refusal(validFor: Record<string, unknown>): string {
  try {
    readValidFor(validFor);
  } catch (error) {
    expect(error).toBeInstanceOf(VerificationError);
    expect((error as VerificationError).code).toBe('malformed');
    return (error as Error).message;
  }
  throw new Error(`${JSON.stringify(validFor)} was accepted`);
}

describe('a trusted root’s validFor times', () => {
  it.each([
    ['2020-12-01T00:00:00Z', '2020-12-01T00:00:00.000Z'],
    ['2020-12-01T00:00:00.123456789Z', '2020-12-01T00:00:00.123Z'],
    ['2020-12-01T02:00:00+02:00', '2020-12-01T00:00:00.000Z'],
    ['2020-11-30T19:00:00-05:00', '2020-12-01T00:00:00.000Z'],
  ])('reads %s as the instant it names', (text, instant) => {
    expect(readValidFor({ start: text, end: text })).toMatchObject({
      start: new Date(instant),
      end: new Date(instant),
    });
  });

  it.each([
    // No zone: Date read it in the host's, so TZ decided.
    '2020-12-01T00:00:00',
    '2020-12-01 00:00:00',
    // Not RFC 3339 at all, though Date takes them.
    '2020',
    '2020-12-01',
    'Dec 1 2020',
    'Tue, 01 Dec 2020 00:00:00 GMT',
    '12',
    // Out of range: Date rolls it over to March.
    '2021-02-30T00:00:00Z',
  ])('refuses %j, whatever the host’s time zone', (text) => {
    expect(refusal({ start: text })).toBe(
      'trusted root: timestampAuthorities[0].validFor.start is not an RFC 3339 time (YYYY-MM-DDThh:mm:ss[.fraction] and Z or ±hh:mm)',
    );
    expect(refusal({ end: text })).toMatch(/validFor\.end is not an RFC 3339 time/);
  });

  it('refuses a time that is not a string', () => {
    expect(refusal({ start: 1606780800 })).toMatch(/validFor\.start is not an RFC 3339 time/);
  });

  it('leaves an absent bound open', () => {
    expect(readValidFor({})).toMatchObject({ start: undefined, end: undefined });
  });
});

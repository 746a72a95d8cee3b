/** TimeStampResp with status rejection, byte for byte and through PKI.js; the token inside a grant. */
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { describe, expect, it } from 'vitest';
import { oid, readElement, toHex } from '../../../src/asn1/der.js';
import { OID } from '../../../src/asn1/oids.js';
import { createMemorySigner } from '../../../src/signers/memory.js';
import { TimestampAuthority } from '../../../src/tsp/authority.js';
import { GO_MESSAGES, reject, type TimeStampRejection } from '../../../src/tsp/rejection.js';
import { CACHED_REJECTIONS, encodeRejection, timeStampTokenOf } from '../../../src/tsp/response.js';
import { parseCertificate } from '../../../src/x509/certificate.js';
import { decodeResponse } from '../../helpers/decode.js';
import { encodeRequest } from '../../helpers/requests.js';

const utf8 = (text: string) => {
  const bytes = Buffer.from(text, 'utf8');
  return `0c${bytes.length.toString(16).padStart(2, '0')}${bytes.toString('hex')}`;
};

describe('encodeRejection', () => {
  it('encodes status rejection (2), the message and the failInfo bit (no detail: one string)', () => {
    // SEQUENCE { SEQUENCE { INTEGER 2, SEQUENCE { UTF8String }, BIT STRING badAlg (bit 0) } }
    const strings = utf8(GO_MESSAGES.weakHash);
    const statusString = `30${(strings.length / 2).toString(16)}${strings}`;
    const statusInfo = `020102${statusString}03020780`;
    expect(encodeRejection(reject.weakHash()).toString('hex')).toBe(
      `30${(statusInfo.length / 2 + 2).toString(16)}30${(statusInfo.length / 2).toString(16)}${statusInfo}`,
    );
  });

  it.each<[string, TimeStampRejection, string[]]>([
    ['malformed', reject.malformed('x'), [GO_MESSAGES.generic, 'malformed request: x']],
    ['badVersion', reject.badVersion(), [GO_MESSAGES.generic, 'TimeStampReq version must be 1']],
    [
      'unsupportedHash',
      reject.unsupportedHash(),
      [GO_MESSAGES.generic, 'unsupported hash algorithm: use SHA-256, SHA-384 or SHA-512'],
    ],
    [
      'hashParameters',
      reject.hashParameters(),
      [GO_MESSAGES.generic, 'hash algorithm parameters must be absent or NULL'],
    ],
    ['digestLength', reject.digestLength(), [GO_MESSAGES.digestLength]],
    ['unacceptedPolicy', reject.unacceptedPolicy(), [GO_MESSAGES.unacceptedPolicy]],
    ['unacceptedExtension', reject.unacceptedExtension(), [GO_MESSAGES.unacceptedExtension]],
    ['jsonTooLarge', reject.jsonTooLarge(), [GO_MESSAGES.jsonTooLarge]],
    ['oidTooLong', reject.oidTooLong(), [GO_MESSAGES.oidTooLong]],
    [
      'timeNotAvailable',
      reject.timeNotAvailable('clock drifted'),
      [GO_MESSAGES.generic, 'clock drifted'],
    ],
    ['systemFailure', reject.systemFailure(), [GO_MESSAGES.generic]],
  ])(
    'reject.%s: its failInfo bit alone and its status strings, as PKI.js reads them',
    (_name, rejection, strings) => {
      const decoded = decodeResponse(encodeRejection(rejection));
      expect(decoded.status).toBe(2);
      expect(decoded.statusStrings).toEqual(strings);
      expect(decoded.failInfo).toEqual([rejection.failInfo]);
    },
  );

  it('makes each encoding once: the same reason gives the same buffer, another detail another', () => {
    const first = encodeRejection(reject.timeNotAvailable('a'));
    expect(encodeRejection(reject.timeNotAvailable('a'))).toBe(first);
    expect(encodeRejection(reject.timeNotAvailable('b'))).not.toEqual(first);
  });

  it('keeps a bounded number, the oldest dropped: a clock detail changes each round', () => {
    const oldest = encodeRejection(reject.timeNotAvailable('oldest'));
    for (let round = 0; round < CACHED_REJECTIONS; round++)
      encodeRejection(reject.timeNotAvailable(`median offset ${round}.01 s`));
    // A reason seen now is kept (the same buffer again); the oldest was dropped for it.
    const late = reject.timeNotAvailable('median offset 1e9 s');
    expect(encodeRejection(late)).toBe(encodeRejection(late));
    const again = encodeRejection(reject.timeNotAvailable('oldest'));
    expect(again).toEqual(oldest);
    expect(again).not.toBe(oldest);
  });
});

describe('timeStampTokenOf', () => {
  it('is the ContentInfo after the status in a granted response', async () => {
    const { signer, chain } = await createMemorySigner('sha256');
    const authority = new TimestampAuthority({
      profile: {
        signer,
        chain: chain.map(parseCertificate),
        defaultPolicy: oid(OID.sigstoreTsaPolicy),
        accuracySeconds: 1,
        includeChain: false,
      },
      policy: { acceptedPolicies: new Set(), allowCustomExtensions: false },
    });
    const outcome = await authority.issue(encodeRequest(), 'der');
    if (outcome.status !== 'granted') throw new Error(`refused: ${outcome.failInfo}`);
    const token = timeStampTokenOf(outcome.der);
    // The last TLV of the response, parsed by PKI.js as a SignedData ContentInfo.
    expect(toHex(outcome.der).endsWith(toHex(token))).toBe(true);
    expect(readElement(token).end).toBe(token.length);
    const contentInfo = new pkijs.ContentInfo({
      schema: asn1js.fromBER(new Uint8Array(token)).result,
    });
    expect(contentInfo.contentType).toBe(pkijs.ContentInfo.SIGNED_DATA);
  });
});

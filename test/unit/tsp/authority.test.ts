import { describe, expect, it } from 'vitest';
import { toHex } from '../../../src/asn1/der.js';
import { createMemorySigner } from '../../../src/signers/memory.js';
import {
  MAX_REISSUES,
  RecordError,
  type GrantedOutcome,
  type IssueContext,
} from '../../../src/tsp/authority.js';
import type { IssuanceGuard } from '../../../src/tsp/guards.js';
import { reject } from '../../../src/tsp/rejection.js';
import { parseCertificate } from '../../../src/x509/certificate.js';
import { decodeResponse } from '../../helpers/decode.js';
import { encodeRequest } from '../../helpers/requests.js';
import { defaultAuthority } from '../../helpers/authority.js';

async function authority(guards: IssuanceGuard[] = []) {
  const { signer, chain } = await createMemorySigner('sha256');
  return defaultAuthority(signer, chain.map(parseCertificate), { guards });
}

const issue = async (guards: IssuanceGuard[], context?: IssueContext) =>
  (await authority(guards)).issue(encodeRequest({ nonce: 9n }), 'der', context);

describe('TimestampAuthority.issue: plain outcomes', () => {
  it('grants with the TimeStampResp, serial number, genTime and the accepted request', async () => {
    const outcome = await issue([]);
    if (outcome.status !== 'granted') throw new Error(`refused: ${outcome.failInfo}`);
    const decoded = decodeResponse(outcome.der);
    expect(decoded.status).toBe(0);
    // As numbers: DER may add a 0x00 octet (top bit set) that the serial's own octets lack.
    const serialOf = (hex: string) => BigInt(`0x${hex}`);
    expect(
      serialOf(toHex(new Uint8Array(decoded.tstInfo!.serialNumber.valueBlock.valueHexView))),
    ).toBe(serialOf(outcome.serialNumber));
    expect(outcome.genTime.getTime() % 1000).toBe(0);
    expect(outcome.request.hash.name).toBe('sha256');
  });

  it('refuses with the failInfo, the Go message and the TimeStampResp', async () => {
    const outcome = await (await authority()).issue(Buffer.from('not a request'), 'der');
    expect(outcome).toMatchObject({
      status: 'rejection',
      failInfo: 'badDataFormat',
      message: 'Error generating timestamp response',
    });
    expect(decodeResponse(outcome.der).failInfo).toEqual(['badDataFormat']);
  });

  it('checks its guards in the order given; the first refusal wins', async () => {
    const outcome = await issue([
      () => undefined,
      () => reject.systemFailure('first'),
      () => reject.timeNotAvailable('second'),
    ]);
    expect(outcome).toMatchObject({
      status: 'rejection',
      failInfo: 'systemFailure',
      detail: 'first',
    });
  });
});

describe('TimestampAuthority.issue: no token unless recorded', () => {
  it('records a granted token before handing it out, and no rejection', async () => {
    const recorded: GrantedOutcome[] = [];
    const record = async (granted: GrantedOutcome) => {
      recorded.push(granted);
    };
    const outcome = await issue([], { record });
    expect(recorded).toEqual([outcome]);
    await issue([() => reject.systemFailure('down')], { record });
    expect(recorded).toHaveLength(1);
  });

  it('withholds the token when the record step fails: systemFailure, with the cause', async () => {
    const failure = new Error('ENOSPC');
    let withheld: GrantedOutcome | undefined;
    const outcome = await issue([], {
      record: async (granted) => {
        withheld = granted;
        throw failure;
      },
    });
    expect(withheld?.status).toBe('granted');
    expect(outcome).toMatchObject({
      status: 'rejection',
      failInfo: 'systemFailure',
      detail: 'audit log write failed',
      cause: failure,
    });
    expect(decodeResponse(outcome.der).statusStrings).toContain('audit log write failed');
  });

  it('refuses with the rejection a record step throws (a token the log cannot hold)', async () => {
    const outcome = await issue([], {
      record: async () => {
        throw reject.tokenTooLarge(65535);
      },
    });
    expect(outcome).toMatchObject({
      status: 'rejection',
      failInfo: 'badRequest',
      message: 'Error generating timestamp response',
      detail:
        'the token would be larger than the 65535 octets a log entry holds: send smaller extensions',
    });
    expect(outcome.status === 'rejection' && outcome.request?.hash.name).toBe('sha256');
    expect(decodeResponse(outcome.der).failInfo).toEqual(['badRequest']);
  });
});

describe('TimestampAuthority.issue: a record step that finds the serial number taken', () => {
  const taken = () => new RecordError('SERIAL_NUMBER_TAKEN', 'taken');

  it('signs again with a new serial number, and sends the token that was recorded', async () => {
    const recorded: GrantedOutcome[] = [];
    let refusals = 2;
    const outcome = await issue([], {
      record: async (granted) => {
        recorded.push(granted);
        if (refusals-- > 0) throw taken();
      },
    });
    if (outcome.status !== 'granted') throw new Error(`refused: ${outcome.failInfo}`);
    expect(recorded).toHaveLength(3);
    expect(new Set(recorded.map((g) => g.serialNumber)).size).toBe(3);
    expect(outcome).toBe(recorded[2]);
  });

  it(`gives up with systemFailure after ${MAX_REISSUES} new serial numbers`, async () => {
    let attempts = 0;
    const outcome = await issue([], {
      record: async () => {
        attempts++;
        throw taken();
      },
    });
    expect(outcome.status).toBe('rejection');
    if (outcome.status !== 'rejection') return;
    expect(outcome.failInfo).toBe('systemFailure');
    expect(outcome.detail).toBe('serial number collision');
    expect(attempts).toBe(MAX_REISSUES + 1);
  });

  it('withholds the token when the record cannot be written (NOT_RECORDED)', async () => {
    const outcome = await issue([], {
      record: async () => {
        throw new RecordError('NOT_RECORDED', 'database down');
      },
    });
    expect(outcome.status === 'rejection' && outcome.detail).toBe('token could not be recorded');
    // Not said to be temporary: a plain systemFailure (HTTP 500).
    expect(outcome.status === 'rejection' && outcome.temporary).toBeUndefined();
  });

  it('says the refusal is temporary when the record failed for an outage (RecordError.temporary)', async () => {
    const outcome = await issue([], {
      record: async () => {
        throw new RecordError('NOT_RECORDED', 'database down', { temporary: true });
      },
    });
    if (outcome.status !== 'rejection') throw new Error('granted');
    expect(outcome).toMatchObject({
      failInfo: 'systemFailure',
      detail: 'token could not be recorded',
      temporary: true,
    });
    // The TimeStampResp says what RFC 3161 says: systemFailure.
    expect(decodeResponse(outcome.der).failInfo).toEqual(['systemFailure']);
    // No retry time of its own: the server's default Retry-After.
    expect(outcome.retryInMs).toBeUndefined();
  });

  it("passes a temporary RecordError's retry time and reason on (a full ledger queue: 1 s, busy)", async () => {
    const busy = 'the ledger is busy: too many tokens are waiting for a commit';
    const outcome = await issue([], {
      record: async () => {
        throw new RecordError('NOT_RECORDED', busy, {
          temporary: true,
          retryInMs: 1_000,
          detail: busy,
        });
      },
    });
    expect(outcome).toMatchObject({
      status: 'rejection',
      failInfo: 'systemFailure',
      detail: busy,
      temporary: true,
      retryInMs: 1_000,
    });
    expect(decodeResponse(outcome.der).statusStrings).toContain(busy);
  });

  it('keeps a lasting RecordError a plain systemFailure with its reason, no retry time', async () => {
    const outcome = await issue([], {
      record: async () => {
        throw new RecordError('NOT_RECORDED', 'commits fail', {
          retryInMs: 1_000,
          detail: 'ledger commits fail (SQLSTATE 42501)',
        });
      },
    });
    expect(outcome).toMatchObject({
      status: 'rejection',
      detail: 'ledger commits fail (SQLSTATE 42501)',
    });
    expect(outcome.status === 'rejection' && outcome.temporary).toBeUndefined();
    expect(outcome.status === 'rejection' && outcome.retryInMs).toBeUndefined();
  });
});

describe('TimestampAuthority.issue: a guard that refuses for now', () => {
  it('passes a temporary refusal (reject.unavailable) on as temporary, a plain one not', async () => {
    const temporary = await issue([() => reject.unavailable('the ledger is down')]);
    expect(temporary).toMatchObject({
      status: 'rejection',
      failInfo: 'systemFailure',
      detail: 'the ledger is down',
      temporary: true,
    });
    const plain = await issue([() => reject.systemFailure('certificate expired')]);
    expect(plain.status === 'rejection' && plain.temporary).toBeUndefined();
  });
});

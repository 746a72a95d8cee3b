import { describe, expect, it } from 'vitest';
import { httpAnswers } from '../../../src/server/http-outcome.js';
import type { IssueOutcome, RejectionOutcome } from '../../../src/tsp/authority.js';
import type { FailInfoName } from '../../../src/tsp/rejection.js';

const der = Buffer.from('3000', 'hex');
const refused = (failInfo: FailInfoName): RejectionOutcome => ({
  status: 'rejection',
  failInfo,
  message: 'Error generating timestamp response',
  der,
});
const granted = { status: 'granted', der } as IssueOutcome;

describe('the HTTP answer of an outcome (server/http-outcome.ts)', () => {
  const rfc = httpAnswers({ useHttp201: false, derRejectionStatus: 'rfc' });
  const go = httpAnswers({ useHttp201: true, derRejectionStatus: 'go' });

  it('grants with 200, or 201 with --use-http-201, and the TimeStampResp', () => {
    expect(rfc(granted, 'der')).toEqual({
      status: 200,
      contentType: 'application/timestamp-reply',
      body: der,
      headers: {},
    });
    expect(go(granted, 'json').status).toBe(201);
  });

  it.each([
    ['badAlg', 200, 400],
    ['badDataFormat', 200, 400],
    ['unacceptedPolicy', 200, 400],
    ['timeNotAvailable', 503, 503],
    ['systemFailure', 500, 500],
  ] as const)('answers a DER %s with %i (rfc) or %i (go)', (failInfo, rfcStatus, goStatus) => {
    expect(rfc(refused(failInfo), 'der')).toMatchObject({ status: rfcStatus, body: der });
    expect(go(refused(failInfo), 'der')).toMatchObject({ status: goStatus, body: der });
  });

  it('answers JSON clients with the Go error body and its status, in both modes', () => {
    for (const answer of [rfc, go]) {
      const http = answer(refused('badAlg'), 'json');
      expect([http.status, http.contentType]).toEqual([400, 'application/json']);
      expect(JSON.parse(http.body.toString())).toEqual({
        code: 400,
        message: 'Error generating timestamp response',
      });
    }
  });

  it('adds Retry-After to timeNotAvailable and temporary refusals only', () => {
    for (const format of ['der', 'json'] as const) {
      expect(rfc(refused('timeNotAvailable'), format).headers).toEqual({ 'retry-after': '10' });
      expect(rfc(refused('systemFailure'), format).headers).toEqual({});
      expect(rfc(temporary, format).headers).toEqual({ 'retry-after': '10' });
    }
  });

  it("gives a refusal's own duration where it knows it, in whole seconds rounded up, at least 1", () => {
    const lasting = (retryInMs: number) => ({ ...temporary, retryInMs });
    for (const format of ['der', 'json'] as const) {
      for (const answer of [rfc, go]) {
        expect(answer(lasting(2_001), format).headers).toEqual({ 'retry-after': '3' });
        expect(answer(lasting(3_600_000), format).headers).toEqual({ 'retry-after': '3600' });
        expect(answer(lasting(1), format).headers).toEqual({ 'retry-after': '1' });
        expect(answer(lasting(0), format).headers).toEqual({ 'retry-after': '1' });
      }
    }
  });

  // Something the TSA depends on is down for now (the ledger, an open circuit breaker).
  const temporary: RejectionOutcome = { ...refused('systemFailure'), temporary: true };

  it('answers a temporary systemFailure 503 with Retry-After, the TimeStampResp kept for DER', () => {
    for (const answer of [rfc, go]) {
      expect(answer(temporary, 'der')).toEqual({
        status: 503,
        contentType: 'application/timestamp-reply',
        body: der,
        headers: { 'retry-after': '10' },
      });
      const json = answer(temporary, 'json');
      expect([json.status, json.headers]).toEqual([503, { 'retry-after': '10' }]);
      expect(JSON.parse(json.body.toString())).toEqual({
        code: 503,
        message: 'Error generating timestamp response',
      });
    }
  });
});

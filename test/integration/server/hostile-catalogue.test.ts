import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FailInfo } from '../../../src/tsp/rejection.js';
import { bodyOf, catalogue, type HostileRequest } from '../../helpers/catalogue.js';
import { createTestServer } from '../../helpers/tsa.js';

type App = Awaited<ReturnType<typeof createTestServer>>['app'];
/** The catalogue records the Go server's status codes (--der-rejection-status=go). */
let app: App;
/** The default: DER rejections answered 200 with the TimeStampResp. */
let rfcApp: App;
beforeAll(async () => {
  ({ app } = await createTestServer({ derRejectionStatus: 'go' }));
  ({ app: rfcApp } = await createTestServer());
});
afterAll(async () => {
  await app.close();
  await rfcApp.close();
});

const send = (entry: HostileRequest, body = bodyOf(entry), to = app) =>
  to.inject({
    method: 'POST',
    url: '/api/v1/timestamp',
    headers: entry.contentType === null ? {} : { 'content-type': entry.contentType },
    payload: body,
  });

/** PKIStatus and the names of the PKIFailureInfo bits set, read with PKI.js (independent of our encoder). */
function readTimeStampResp(body: Buffer): { status: number; failInfo: string[] } {
  const asn1 = asn1js.fromBER(new Uint8Array(body).buffer);
  expect(asn1.offset).toBe(body.length);
  const response = new pkijs.TimeStampResp({ schema: asn1.result });
  const bits = response.status.failInfo
    ? new Uint8Array(response.status.failInfo.valueBlock.valueHexView)
    : new Uint8Array(0);
  const failInfo = Object.entries(FailInfo)
    .filter(([, bit]) => ((bits[bit >> 3] ?? 0) & (0x80 >> (bit & 7))) !== 0)
    .map(([name]) => name);
  return { status: response.status.status, failInfo };
}

describe('hostile request catalogue', () => {
  it('has at least 50 entries', () => {
    expect(catalogue.length).toBeGreaterThanOrEqual(50);
  });

  it.each(catalogue.map((entry) => [entry.name, entry] as const))('%s', async (_name, entry) => {
    const response = await send(entry);
    expect(response.statusCode).toBe(entry.expect.status);
    const isDerRejection = entry.expect.failInfo && entry.expect.status < 500;
    const rfcResponse = await send(entry, bodyOf(entry), rfcApp);
    expect(rfcResponse.statusCode).toBe(isDerRejection ? 200 : entry.expect.status);
    expect(rfcResponse.rawPayload.equals(response.rawPayload) || entry.expect.status === 200).toBe(
      true,
    );
    if (entry.expect.jsonCode !== undefined) {
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      expect(response.json()).toMatchObject({
        code: entry.expect.jsonCode,
        message: expect.any(String),
      });
    } else if (entry.contentType?.toLowerCase().startsWith('application/timestamp-query')) {
      const { status, failInfo } = readTimeStampResp(response.rawPayload);
      if (entry.expect.status === 200) {
        expect(status).toBe(0);
      } else {
        expect(status).toBe(2);
        expect(failInfo).toEqual([entry.expect.failInfo]);
      }
    }
  });
});

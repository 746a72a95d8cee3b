/**
 * The timestamp route issues the requests read in one turn of the event loop together
 * (server/turn-batch.ts): three requests pipelined in one write are signed back to back, with no
 * other work between them, and each gets its own token.
 */
import { once } from 'node:events';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Signer } from '../../../src/crypto/signer.js';
import { parseTimestampResponse } from '../../../src/verify/parse-response.js';
import { helloTimeStampReq } from '../../loadtest/request.js';
import { takeResponse, type RawResponse } from '../../helpers/split-request.js';
import { createTestServer } from '../../helpers/tsa.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * Wraps the signer's signNow to count the signatures made in one go: a run ends at the first
 * microtask checkpoint after it began, which any await, resolved promise or callback between
 * two requests' signatures would reach.
 */
function countRuns(signer: Signer): number[] {
  const signNow = signer.signNow;
  if (!signNow) throw new Error(`${signer.id} has no signNow`);
  const runs: number[] = [];
  let run = 0;
  Object.assign(signer, {
    signNow: (data: Uint8Array) => {
      if (run++ === 0)
        queueMicrotask(() => {
          runs.push(run);
          run = 0;
        });
      return signNow.call(signer, data);
    },
  });
  return runs;
}

/** Sends `requests` on one connection and reads `count` responses. */
async function readResponses(port: number, requests: Buffer, count: number) {
  const client = connect(port, '127.0.0.1');
  cleanups.push(() => client.destroy());
  await once(client, 'connect');
  client.write(requests);
  let data: Buffer = Buffer.alloc(0);
  const responses: RawResponse[] = [];
  for await (const chunk of client) {
    data = Buffer.concat([data, chunk as Buffer]);
    for (let taken = takeResponse(data); taken; taken = takeResponse(data)) {
      responses.push(taken.response);
      data = taken.rest;
    }
    if (responses.length === count) break;
  }
  return responses;
}

describe('tokens in turns', () => {
  it('signs the requests of one pipelined write back to back, each with its own token', async () => {
    const { app, signer } = await createTestServer();
    const runs = countRuns(signer);
    await app.listen({ host: '127.0.0.1', port: 0 });
    cleanups.push(() => app.close());
    const { port } = app.server.address() as { port: number };
    const body = helloTimeStampReq();
    const request = Buffer.concat([
      Buffer.from(
        'POST /api/v1/timestamp HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
          `Content-Type: application/timestamp-query\r\nContent-Length: ${body.length}\r\n\r\n`,
        'latin1',
      ),
      body,
    ]);

    const responses = await readResponses(port, Buffer.concat([request, request, request]), 3);

    expect(responses.map((response) => response.status)).toEqual([200, 200, 200]);
    // Granted tokens (parseTimestampResponse refuses any other status), three different ones.
    const serials = responses.map(
      (response) => parseTimestampResponse(response.body).timestamp.serialNumber,
    );
    expect(new Set(serials).size).toBe(3);
    expect(runs).toEqual([3]);
  });
});

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bodyOf, catalogue, type HostileRequest } from '../helpers/catalogue.js';
import { createTestServer } from '../helpers/tsa.js';

/**
 * The hostile request catalogue (test/integration/server/hostile-catalogue.test.ts) sent again and
 * again, all at once with /ping probes among it: memory stays flat and /ping answers. A soak check,
 * so it runs in the slow tier.
 */

type App = Awaited<ReturnType<typeof createTestServer>>['app'];
/** The catalogue records the Go server's status codes (--der-rejection-status=go). */
let app: App;
beforeAll(async () => {
  ({ app } = await createTestServer({ derRejectionStatus: 'go' }));
});
afterAll(async () => {
  await app.close();
});

const send = (entry: HostileRequest, body = bodyOf(entry)) =>
  app.inject({
    method: 'POST',
    url: '/api/v1/timestamp',
    headers: entry.contentType === null ? {} : { 'content-type': entry.contentType },
    payload: body,
  });

describe('the catalogue in a loop', () => {
  type Answer = { status: number; body: string };
  const injected = async (entry: HostileRequest, body: Buffer): Promise<Answer> => {
    const response = await send(entry, body);
    return { status: response.statusCode, body: response.body };
  };
  const injectedPing = async (): Promise<Answer> => {
    const response = await app.inject({ method: 'GET', url: '/ping' });
    return { status: response.statusCode, body: response.body };
  };

  async function expectFlatMemory(
    rounds: number,
    post: (entry: HostileRequest, body: Buffer) => Promise<Answer>,
    ping: () => Promise<Answer>,
  ): Promise<void> {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const bodies = catalogue.map((entry) => bodyOf(entry));
    const memoryAfterGc = (): number => {
      gc();
      gc();
      const usage = process.memoryUsage();
      // Buffers live outside the JS heap; count both.
      return usage.heapUsed + usage.arrayBuffers;
    };
    const round = async (): Promise<void> => {
      // Every request of a round in flight at once, with /ping probes among them.
      const pings = Array.from({ length: 20 }, ping);
      const answers = await Promise.all(
        catalogue.map((entry, i) => post(entry, bodies[i] as Buffer)),
      );
      answers.forEach((answer, i) =>
        expect(answer.status, catalogue[i]?.name).toBe(catalogue[i]?.expect.status),
      );
      for (const answer of await Promise.all(pings))
        expect(answer).toEqual({ status: 200, body: '.' });
    };
    for (let i = 0; i < 3; i++) await round(); // warm-up: JIT, caches, pools
    const before = memoryAfterGc();
    for (let i = 0; i < rounds; i++) await round();
    // Each round moves ~3.5 MB of request bodies; keeping even one large body per round would show.
    expect(memoryAfterGc() - before).toBeLessThan(16 * 1024 * 1024);
  }

  it('in-process: memory stays bounded and /ping answers', { timeout: 300_000 }, () =>
    expectFlatMemory(100, injected, injectedPing),
  );

  it('over HTTP: memory stays bounded and /ping answers', { timeout: 300_000 }, async () => {
    const { app: listening } = await createTestServer({ derRejectionStatus: 'go' });
    const url = await listening.listen({ host: '127.0.0.1', port: 0 });
    try {
      await expectFlatMemory(
        20,
        async (entry, body) => {
          const response = await fetch(`${url}/api/v1/timestamp`, {
            method: 'POST',
            headers: entry.contentType === null ? {} : { 'content-type': entry.contentType },
            body,
          });
          return { status: response.status, body: await response.text() };
        },
        async () => {
          const response = await fetch(`${url}/ping`);
          return { status: response.status, body: await response.text() };
        },
      );
    } finally {
      await listening.close();
    }
  });
});

import { get } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  MAX_WAITING_SCRAPES,
  startMetricsListener,
  type MetricsListener,
  type MetricsSource,
} from '../../../src/server/metrics-listener.js';

// A flood of scrapes on the metrics listener: one collection for the scrapes that wait at once
// (a cluster's asks every worker), and a bound on how many may wait.

let listener: MetricsListener | undefined;
afterEach(async () => {
  await listener?.close();
  listener = undefined;
});

/** A source whose collections each wait until the test ends them; counted. */
function heldSource() {
  let calls = 0;
  const pending: { resolve(text: string): void; reject(error: Error): void }[] = [];
  const source: MetricsSource = {
    contentType: 'text/plain; version=0.0.4; charset=utf-8',
    metrics: () => {
      calls++;
      return new Promise((resolve, reject) => pending.push({ resolve, reject }));
    },
  };
  return {
    source,
    calls: () => calls,
    answer: (text: string) => {
      for (const collection of pending.splice(0)) collection.resolve(text);
    },
    fail: (error: Error) => {
      for (const collection of pending.splice(0)) collection.reject(error);
    },
  };
}

async function listen(
  source: MetricsSource,
  maxWaiting?: number,
  timeoutMs = 60_000,
): Promise<MetricsListener> {
  listener = await startMetricsListener({
    host: '127.0.0.1',
    port: 0,
    timeoutMs,
    source,
    ...(maxWaiting === undefined ? {} : { maxWaiting }),
  });
  return listener;
}

/** Resolves once the listener's handler has run for `count` more requests. */
function received(server: MetricsListener['server'], count: number): Promise<void> {
  let seen = 0;
  return new Promise((resolve) => {
    const onRequest = () => {
      if (++seen < count) return;
      server.off('request', onRequest);
      resolve();
    };
    // After the listener's own handler, which is the first 'request' listener.
    server.on('request', onRequest);
  });
}

/** One scrape on a connection of its own. */
function scrape(url: string): Promise<{ status: number; retryAfter?: string; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        const retryAfter = response.headers['retry-after'];
        resolve({
          status: response.statusCode ?? 0,
          ...(retryAfter === undefined ? {} : { retryAfter }),
          body,
        });
      });
      response.on('error', reject);
    }).on('error', reject);
  });
}

describe('the metrics listener under a flood of scrapes', () => {
  it('collects once for the scrapes that wait at once, and keeps nothing once sent', async () => {
    const held = heldSource();
    const { server, url } = await listen(held.source);
    const count = MAX_WAITING_SCRAPES;
    const arrived = received(server, count);
    const scrapes = Array.from({ length: count }, () => scrape(url));
    await arrived;
    expect(held.calls()).toBe(1);
    held.answer('a_total 1\n');
    const answers = await Promise.all(scrapes);
    expect(answers.map((answer) => answer.status)).toEqual(Array(count).fill(200));
    expect(new Set(answers.map((answer) => answer.body))).toEqual(new Set(['a_total 1\n']));

    // A scrape after those collects anew.
    const next = received(server, 1);
    const later = scrape(url);
    await next;
    expect(held.calls()).toBe(2);
    held.answer('a_total 2\n');
    expect(await later).toMatchObject({ status: 200, body: 'a_total 2\n' });
  });

  it('refuses the scrapes beyond its bound 503 with Retry-After while a collection runs', async () => {
    const held = heldSource();
    const { server, url } = await listen(held.source, 4);
    const arrived = received(server, 7);
    const scrapes = Array.from({ length: 7 }, () => scrape(url));
    await arrived;
    held.answer('a_total 1\n');
    const answers = await Promise.all(scrapes);
    expect(held.calls()).toBe(1);
    const refused = answers.filter((answer) => answer.status === 503);
    expect(answers.filter((answer) => answer.status === 200)).toHaveLength(4);
    expect(refused).toHaveLength(3);
    for (const answer of refused) {
      expect(answer).toEqual({
        status: 503,
        retryAfter: '1',
        body: 'too many scrapes at once: retry in a second\n',
      });
    }

    // Failed or answered, the scrapes no longer wait: as many may wait again.
    const again = received(server, 4);
    const next = Array.from({ length: 4 }, () => scrape(url));
    await again;
    held.fail(new Error('worker 1 did not send its metrics'));
    for (const answer of await Promise.all(next)) expect(answer.status).toBe(500);
    const last = received(server, 1);
    const after = scrape(url);
    await last;
    held.answer('a_total 2\n');
    expect(await after).toMatchObject({ status: 200, body: 'a_total 2\n' });
  });
});

describe('the metrics listener’s refusals', () => {
  it('keeps a scrape whose collection outlasts --read-timeout (a cluster waiting for a silent worker)', async () => {
    const held = heldSource();
    const { server, url } = await listen(held.source, undefined, 100);
    const collecting = received(server, 1);
    const answered = scrape(url);
    await collecting;
    // Longer than the read timeout and Node's once-a-second check of it.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    held.answer('late_but_whole 1\n');
    expect(await answered).toEqual({ status: 200, body: 'late_but_whole 1\n' });
  });

  it('answers another method on /metrics 405 with Allow, and another path 404', async () => {
    const { url } = await listen({ contentType: 'text/plain', metrics: async () => 'a_total 1\n' });
    const post = await fetch(url, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect(await post.text()).toBe('method POST is not allowed: metrics are read with GET\n');
    const elsewhere = await fetch(new URL('/metric', url));
    expect(elsewhere.status).toBe(404);
    expect(await elsewhere.text()).toBe('not found: metrics are at /metrics\n');
    expect(await (await fetch(url)).text()).toBe('a_total 1\n');
  });
});

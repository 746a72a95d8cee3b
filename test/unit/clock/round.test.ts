import { describe, expect, it } from 'vitest';
import {
  KissHoldOff,
  onePerAddress,
  pickServers,
  queryRound,
  type RoundOptions,
} from '../../../src/clock/round.js';
import type { NtpServerAddress } from '../../../src/clock/server-address.js';
import { SntpError, type SntpQuery, type SntpSample } from '../../../src/clock/sntp-client.js';

const address = (name: string): NtpServerAddress => ({ name, host: name, port: 123 });
const answer: SntpSample = {
  offsetMs: 1,
  delayMs: 2,
  errorBoundMs: 1,
  leapIndicator: 0,
  stratum: 2,
  serverTimeMs: 0,
};

/** A round over injected queries: no UDP, no pause between attempts. */
function round(query: SntpQuery, options: Partial<RoundOptions> = {}) {
  const servers = options.servers ?? [address('a')];
  return queryRound({
    servers,
    numServers: servers.length,
    requestAttempts: 3,
    requestTimeoutMs: 100,
    retryDelayMs: 0,
    query,
    now: Date.now,
    random: () => 0,
    signal: new AbortController().signal,
    debug: () => {},
    ...options,
  });
}

describe('pickServers', () => {
  it('picks count distinct servers, as the random source decides', () => {
    expect(pickServers(['a', 'b', 'c', 'd'], 2, () => 0)).toEqual(['a', 'b']);
    expect(pickServers(['a', 'b', 'c', 'd'], 2, () => 0.99)).toEqual(['d', 'a']);
    expect(new Set(pickServers(['a', 'b', 'c'], 3, Math.random)).size).toBe(3);
  });
});

describe('queryRound', () => {
  it('retries a timeout up to request_attempts, then reports the server with its failure', async () => {
    let calls = 0;
    const outcomes = await round(() => {
      calls++;
      return Promise.reject(new SntpError('timeout', 'no answer'));
    });
    expect(calls).toBe(3);
    expect(outcomes).toEqual([{ server: address('a'), failure: 'timeout', attempts: 3 }]);
  });

  it('keeps the first answer of a server after failed attempts', async () => {
    let calls = 0;
    const outcomes = await round(() =>
      ++calls < 2 ? Promise.reject(new Error('ECONNREFUSED')) : Promise.resolve(answer),
    );
    expect(outcomes).toEqual([{ server: address('a'), sample: answer, attempts: 2 }]);
  });

  it('does not ask again a server that refused deliberately (kiss-o-death)', async () => {
    let calls = 0;
    const outcomes = await round(() => {
      calls++;
      return Promise.reject(new SntpError('kiss-o-death', 'RATE'));
    });
    expect(calls).toBe(1);
    expect(outcomes[0]).toMatchObject({ failure: 'kiss-o-death', attempts: 1 });
  });

  it('asks the picked servers in parallel and reports each', async () => {
    const asked: string[] = [];
    const outcomes = await round(
      (server) => {
        asked.push(server.name);
        return server.name === 'b'
          ? Promise.reject(new SntpError('alarm', 'unsynchronised'))
          : Promise.resolve(answer);
      },
      { servers: [address('a'), address('b'), address('c')], numServers: 2 },
    );
    expect(asked).toEqual(['a', 'b']);
    expect(outcomes.map(({ server, failure }) => [server.name, failure])).toEqual([
      ['a', undefined],
      ['b', 'alarm'],
    ]);
  });

  it('stops when aborted: a query cut short is not counted as a failed attempt', async () => {
    const controller = new AbortController();
    let calls = 0;
    const outcomes = await round(
      (_server, { signal }) => {
        calls++;
        controller.abort();
        return Promise.reject(signal?.reason as Error);
      },
      { signal: controller.signal },
    );
    expect(calls).toBe(1);
    expect(outcomes).toEqual([{ server: address('a'), failure: 'timeout', attempts: 1 }]);
  });
});

describe('kiss-o-death hold-offs, kept by the address that answered', () => {
  /**
   * A pool name whose DNS answers rotate through `rotation`, as pool.ntp.org does: the query sends
   * nothing to an address the round says is held off, as querySntp does after its lookup.
   */
  function pool(rotation: string[], kissFrom: string) {
    let lookups = 0;
    const sent: string[] = [];
    const query: SntpQuery = (_server, options) => {
      const at = rotation[lookups++ % rotation.length]!;
      if (options.heldOff?.(at)) {
        const held = new SntpError('held-off', `${at} held off`);
        held.address = at;
        return Promise.reject(held);
      }
      sent.push(at);
      if (at === kissFrom) {
        const kiss = new SntpError('kiss-o-death', "kiss-o'-death DENY", { kissCode: 'DENY' });
        kiss.address = at;
        return Promise.reject(kiss);
      }
      return Promise.resolve({ ...answer, address: at });
    };
    return { query, sent };
  }

  it("one server of a pool that kisses DENY is not asked again; the pool's others are", async () => {
    let mono = 0;
    const holdOff = new KissHoldOff(60_000, () => mono);
    const { query, sent } = pool(['10.0.0.1:123', '10.0.0.2:123'], '10.0.0.1:123');
    const servers = [address('pool.example')];
    const outcomes = [];
    for (let i = 0; i < 4; i++) {
      outcomes.push((await round(query, { servers, holdOff }))[0]);
      mono += 60_000;
    }
    // The name stays in use: .2 answers every other round, .1 was asked once.
    expect(
      outcomes.map((outcome) => (outcome ? (outcome.failure ?? 'answer') : 'not picked')),
    ).toEqual(['kiss-o-death', 'answer', 'held-off', 'answer']);
    expect(sent).toEqual(['10.0.0.1:123', '10.0.0.2:123', '10.0.0.2:123']);
  });
});

describe('onePerAddress', () => {
  it('counts the answers of one address once: two names of one server are one server', async () => {
    const servers = ['127.0.0.1', 'localhost', 'other'].map(address);
    const answering: Record<string, string> = {
      '127.0.0.1': '127.0.0.1:123',
      localhost: '127.0.0.1:123',
      other: '127.0.0.2:123',
    };
    const outcomes = await round(
      (server) => Promise.resolve({ ...answer, address: answering[server.name]! }),
      { servers },
    );
    const { samples, duplicates } = onePerAddress(outcomes);
    expect(samples.map(({ server }) => server.name)).toEqual(['127.0.0.1', 'other']);
    expect(duplicates).toEqual([
      { server: address('localhost'), sameAs: address('127.0.0.1'), address: '127.0.0.1:123' },
    ]);
  });

  it('keeps answers without an address (an injected query) by name, and skips failures', () => {
    const { samples, duplicates } = onePerAddress([
      { server: address('a'), sample: answer, attempts: 1 },
      { server: address('b'), sample: answer, attempts: 1 },
      { server: address('c'), failure: 'timeout', attempts: 3 },
    ]);
    expect(samples.map(({ server }) => server.name)).toEqual(['a', 'b']);
    expect(duplicates).toEqual([]);
  });
});

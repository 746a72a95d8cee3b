/**
 * Outbound names are resolved one at a time (host-lookup.ts): getaddrinfo runs on libuv's thread
 * pool, where RSA and P-384 keys sign, and a resolver that does not answer holds a thread per
 * lookup. The resolver here is one the test answers by hand: one that never answers cannot be made
 * real. The integration tests of the clock, the ledger and the KMS signers connect through it.
 */
import type { LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { describe, expect, it } from 'vitest';
import { oneLookupAtATime, type LookupQuery } from '../../src/host-lookup.js';

/** A resolver that answers when the test says: the lookups asked, in order, and their answers. */
function handResolver() {
  const asked: string[] = [];
  const answers: {
    resolve: (addresses: LookupAddress[]) => void;
    reject: (error: Error) => void;
  }[] = [];
  const lookup = (host: string, { family, hints }: LookupQuery) =>
    new Promise<LookupAddress[]>((resolve, reject) => {
      asked.push(family === 0 && hints === 0 ? host : `${host} (family ${family}, hints ${hints})`);
      answers.push({ resolve, reject });
    });
  return { asked, answers, lookup };
}

const turns = async (count = 5) => {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve));
};

/** What a socket's lookup calls back with: [error, address(es), family]. */
function socketLookup(
  forSockets: LookupFunction,
  host: string,
  options: Parameters<LookupFunction>[1],
): Promise<unknown[]> {
  return new Promise((resolve) => forSockets(host, options, (...answer) => resolve(answer)));
}

describe('outbound name lookups', () => {
  it('are made one at a time, in the order asked', async () => {
    const resolver = handResolver();
    const lookups = oneLookupAtATime(resolver.lookup);
    const wanted = ['a.example', 'b.example', 'c.example'].map((host) => lookups.address(host));
    await turns();
    expect(resolver.asked).toEqual(['a.example']); // the others hold no thread meanwhile
    resolver.answers[0]!.resolve([{ address: '192.0.2.1', family: 4 }]);
    await turns();
    expect(resolver.asked).toEqual(['a.example', 'b.example']);
    resolver.answers[1]!.resolve([{ address: '192.0.2.2', family: 4 }]);
    await turns();
    resolver.answers[2]!.resolve([
      { address: '2001:db8::3', family: 6 },
      { address: '192.0.2.3', family: 4 },
    ]);
    expect(await Promise.all(wanted)).toEqual([
      { address: '192.0.2.1', family: 4 },
      { address: '192.0.2.2', family: 4 },
      { address: '2001:db8::3', family: 6 },
    ]);
  });

  it('a name wanted while it is resolved is looked up once; later, again (a pool rotates)', async () => {
    const resolver = handResolver();
    const lookups = oneLookupAtATime(resolver.lookup);
    const first = lookups.address('pool.example');
    const second = lookups.address('pool.example');
    await turns();
    resolver.answers[0]!.resolve([{ address: '192.0.2.1', family: 4 }]);
    expect(await first).toEqual({ address: '192.0.2.1', family: 4 });
    expect(await second).toEqual({ address: '192.0.2.1', family: 4 });
    const later = lookups.address('pool.example');
    await turns();
    resolver.answers[1]!.resolve([{ address: '192.0.2.9', family: 4 }]);
    expect(await later).toEqual({ address: '192.0.2.9', family: 4 });
    expect(resolver.asked).toEqual(['pool.example', 'pool.example']);
  });

  it('a failed lookup fails its own queries only; the next name is looked up', async () => {
    const resolver = handResolver();
    const lookups = oneLookupAtATime(resolver.lookup);
    const failing = lookups.address('gone.example');
    const next = lookups.address('b.example');
    await turns();
    resolver.answers[0]!.reject(new Error('getaddrinfo EAI_AGAIN gone.example'));
    await expect(failing).rejects.toThrow('EAI_AGAIN');
    await turns();
    resolver.answers[1]!.resolve([{ address: '192.0.2.2', family: 4 }]);
    expect(await next).toEqual({ address: '192.0.2.2', family: 4 });
  });

  it('an address is not looked up, nor held behind a name the resolver does not answer', async () => {
    const resolver = handResolver();
    const lookups = oneLookupAtATime(resolver.lookup);
    void lookups.address('hung.example'); // never answered
    expect(await lookups.address('192.0.2.7')).toEqual({ address: '192.0.2.7', family: 4 });
    expect(await lookups.address('2001:db8::7')).toEqual({ address: '2001:db8::7', family: 6 });
    expect(resolver.asked).toEqual(['hung.example']);
  });

  it('a resolver that answers no address fails the lookup as getaddrinfo would', async () => {
    const resolver = handResolver();
    const lookups = oneLookupAtATime(resolver.lookup);
    const empty = lookups.address('empty.example');
    await turns();
    resolver.answers[0]!.resolve([]);
    await expect(empty).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });
});

describe('the lookup option of sockets', () => {
  it('answers net.connect as dns.lookup does: every address, or the first', async () => {
    const resolver = handResolver();
    const { forSockets } = oneLookupAtATime(resolver.lookup);
    const all = socketLookup(forSockets, 'db.example', { family: 0, hints: 1024, all: true });
    const one = socketLookup(forSockets, 'db.example', { family: 0, hints: 1024 });
    await turns();
    const addresses = [
      { address: '2001:db8::5', family: 6 },
      { address: '192.0.2.5', family: 4 },
    ];
    resolver.answers[0]!.resolve(addresses);
    expect(await all).toEqual([null, addresses]);
    expect(await one).toEqual([null, '2001:db8::5', 6]);
    // Both wanted the same family and hints: one lookup, with what the socket asked for.
    expect(resolver.asked).toEqual(['db.example (family 0, hints 1024)']);
  });

  it('a family of its own is its own lookup, behind the others', async () => {
    const resolver = handResolver();
    const { forSockets } = oneLookupAtATime(resolver.lookup);
    const any = socketLookup(forSockets, 'db.example', { all: true });
    const v4 = socketLookup(forSockets, 'db.example', { family: 'IPv4', all: true });
    await turns();
    expect(resolver.asked).toEqual(['db.example']);
    resolver.answers[0]!.resolve([{ address: '192.0.2.5', family: 4 }]);
    await turns();
    resolver.answers[1]!.resolve([{ address: '192.0.2.5', family: 4 }]);
    await Promise.all([any, v4]);
    expect(resolver.asked).toEqual(['db.example', 'db.example (family 4, hints 0)']);
  });

  it('a failed lookup calls back each socket with an error of its own', async () => {
    const resolver = handResolver();
    const { forSockets } = oneLookupAtATime(resolver.lookup);
    const failed = [1, 2].map(() => socketLookup(forSockets, 'gone.example', { all: true }));
    await turns();
    const error = Object.assign(new Error('getaddrinfo ENOTFOUND gone.example'), {
      code: 'ENOTFOUND',
    });
    resolver.answers[0]!.reject(error);
    const [first, second] = (await Promise.all(failed)).map(
      ([received]) => received as Error & { code: string; $metadata?: object },
    );
    expect(resolver.asked).toEqual(['gone.example']);
    for (const received of [first!, second!]) {
      expect(received).toBeInstanceOf(Error);
      expect(received.message).toBe('getaddrinfo ENOTFOUND gone.example');
      expect(received.code).toBe('ENOTFOUND');
    }
    first!.$metadata = {}; // as an SDK's middleware does to the error it sees
    expect(second!.$metadata).toBeUndefined();
  });
});

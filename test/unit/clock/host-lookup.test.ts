/**
 * NTP names are resolved one at a time (host-lookup.ts): getaddrinfo runs on libuv's thread pool,
 * where RSA and P-384 keys sign, and a resolver that does not answer holds a thread per lookup.
 * The resolver here is one the test answers by hand: one that never answers cannot be made real.
 */
import type { LookupAddress } from 'node:dns';
import { describe, expect, it } from 'vitest';
import { oneLookupAtATime } from '../../../src/clock/host-lookup.js';

/** A resolver that answers when the test says: the names asked, in order, and their answers. */
function handResolver() {
  const asked: string[] = [];
  const answers: { resolve: (address: LookupAddress) => void; reject: (error: Error) => void }[] =
    [];
  const lookup = (host: string) =>
    new Promise<LookupAddress>((resolve, reject) => {
      asked.push(host);
      answers.push({ resolve, reject });
    });
  return { asked, answers, lookup };
}

const turns = async (count = 5) => {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe('NTP name lookups', () => {
  it('are made one at a time, in the order asked', async () => {
    const resolver = handResolver();
    const lookup = oneLookupAtATime(resolver.lookup);
    const wanted = ['a.example', 'b.example', 'c.example'].map((host) => lookup(host));
    await turns();
    expect(resolver.asked).toEqual(['a.example']); // the others hold no thread meanwhile
    resolver.answers[0]!.resolve({ address: '192.0.2.1', family: 4 });
    await turns();
    expect(resolver.asked).toEqual(['a.example', 'b.example']);
    resolver.answers[1]!.resolve({ address: '192.0.2.2', family: 4 });
    await turns();
    resolver.answers[2]!.resolve({ address: '2001:db8::3', family: 6 });
    expect(await Promise.all(wanted)).toEqual([
      { address: '192.0.2.1', family: 4 },
      { address: '192.0.2.2', family: 4 },
      { address: '2001:db8::3', family: 6 },
    ]);
  });

  it('a name wanted while it is resolved is looked up once; later, again (a pool rotates)', async () => {
    const resolver = handResolver();
    const lookup = oneLookupAtATime(resolver.lookup);
    const first = lookup('pool.example');
    const second = lookup('pool.example');
    await turns();
    resolver.answers[0]!.resolve({ address: '192.0.2.1', family: 4 });
    expect(await first).toEqual({ address: '192.0.2.1', family: 4 });
    expect(await second).toEqual({ address: '192.0.2.1', family: 4 });
    const later = lookup('pool.example');
    await turns();
    resolver.answers[1]!.resolve({ address: '192.0.2.9', family: 4 });
    expect(await later).toEqual({ address: '192.0.2.9', family: 4 });
    expect(resolver.asked).toEqual(['pool.example', 'pool.example']);
  });

  it('a failed lookup fails its own queries only; the next name is looked up', async () => {
    const resolver = handResolver();
    const lookup = oneLookupAtATime(resolver.lookup);
    const failing = lookup('gone.example');
    const next = lookup('b.example');
    await turns();
    resolver.answers[0]!.reject(new Error('getaddrinfo EAI_AGAIN gone.example'));
    await expect(failing).rejects.toThrow('EAI_AGAIN');
    await turns();
    resolver.answers[1]!.resolve({ address: '192.0.2.2', family: 4 });
    expect(await next).toEqual({ address: '192.0.2.2', family: 4 });
  });

  it('an address is not looked up, nor held behind a name the resolver does not answer', async () => {
    const resolver = handResolver();
    const lookup = oneLookupAtATime(resolver.lookup);
    void lookup('hung.example'); // never answered
    expect(await lookup('192.0.2.7')).toEqual({ address: '192.0.2.7', family: 4 });
    expect(await lookup('2001:db8::7')).toEqual({ address: '2001:db8::7', family: 6 });
    expect(resolver.asked).toEqual(['hung.example']);
  });
});

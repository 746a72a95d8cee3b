import type { LookupAddress } from 'node:dns';
import { lookup as systemLookup } from 'node:dns/promises';
import { isIP, type LookupFunction } from 'node:net';
import { CodedError } from './errors.js';

/** What getaddrinfo is asked besides the name: an address family (0: any) and its AI_ flags. */
export interface LookupQuery {
  family: number;
  hints: number;
}

/** Every address of a host for a query, in the resolver's order. */
export type AddressesLookup = (host: string, query: LookupQuery) => Promise<LookupAddress[]>;

/** dns.lookup's error for a name without addresses, for a resolver that answered none. */
const notFound = (host: string) => new CodedError('ENOTFOUND', `getaddrinfo ENOTFOUND ${host}`);

const systemAddresses: AddressesLookup = (host, { family, hints }) =>
  systemLookup(host, { family, hints, all: true });

/** One queue of name lookups, for one kind of outbound connection (the clock's, the ledger's…). */
export interface HostLookups {
  /** The first address of a host, of either family (an NTP query's). */
  address(host: string): Promise<LookupAddress>;
  /** The `lookup` option of net.connect, tls.connect and http agents: their names resolve here. */
  readonly forSockets: LookupFunction;
}

/**
 * Resolves names with the system's resolver (getaddrinfo: /etc/hosts and the search domains, as
 * every other program on the host), one lookup at a time, and once for all the connections that
 * want a name (for the same family and flags) while it is being resolved. An address is not looked
 * up.
 *
 * Why one at a time: dns.lookup runs getaddrinfo on libuv's thread pool (4 threads by default),
 * where RSA and P-384 keys sign, P-384 and P-521 tokens are checked, and files are written. A
 * resolver that does not answer holds each lookup's thread until its own timeouts end (resolv.conf:
 * 5 s × attempts, for each search domain: about a minute in a Kubernetes pod). Lookups in parallel
 * (a clock round asks several servers at once; a pool or an HTTP agent opens connections as load
 * comes) would hold every thread, and stall those signatures for as long as DNS is down. One at a
 * time, each queue holds one. The price: a name queued behind one the resolver does not answer
 * waits for it (its connection times out, as it would have without an answer).
 */
export function oneLookupAtATime(lookup: AddressesLookup = systemAddresses): HostLookups {
  const resolving = new Map<string, Promise<LookupAddress[]>>();
  let previous: Promise<unknown> = Promise.resolve();

  const addresses = (host: string, query: LookupQuery): Promise<LookupAddress[]> => {
    const family = isIP(host);
    if (family !== 0) return Promise.resolve([{ address: host, family }]);
    const key = `${query.family}/${query.hints}/${host}`;
    const shared = resolving.get(key);
    if (shared) return shared;
    const found = previous
      .then(() => lookup(host, query))
      .then((list) => {
        if (list.length === 0) throw notFound(host);
        return list;
      });
    const settled = () => {
      resolving.delete(key);
    };
    previous = found.then(settled, settled);
    resolving.set(key, found);
    return found;
  };

  const forSockets: LookupFunction = (host, options, callback) => {
    const family =
      options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : (options.family ?? 0);
    // The callback runs outside the promise, as dns.lookup's does: what it throws is not a rejection.
    addresses(host, { family, hints: options.hints ?? 0 }).then(
      (found) => {
        const first = found[0]!;
        if (options.all) process.nextTick(callback, null, found);
        else process.nextTick(callback, null, first.address, first.family);
      },
      // Each socket its own error, as dns.lookup's: SDKs add fields to the errors they see (an
      // object whose prototype is the shared one reads as it, and keeps its own writes).
      (error: NodeJS.ErrnoException) =>
        process.nextTick(callback, Object.create(error) as NodeJS.ErrnoException, ''),
    );
  };

  return {
    address: async (host) => (await addresses(host, { family: 0, hints: 0 }))[0]!,
    forSockets,
  };
}

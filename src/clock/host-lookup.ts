import type { LookupAddress } from 'node:dns';
import { lookup as systemLookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/** Resolves an NTP server's host to one address. */
export type HostLookup = (host: string) => Promise<LookupAddress>;

/**
 * Resolves NTP server names with the system's resolver (getaddrinfo: /etc/hosts and the search
 * domains, as every other program on the host), one name at a time, and once for all the queries
 * that want a name while it is being resolved. An address is not looked up.
 *
 * Why one at a time: dns.lookup runs getaddrinfo on libuv's thread pool (4 threads by default),
 * where RSA and P-384 keys sign, P-384 and P-521 tokens are checked, and files are written. A
 * resolver that does not answer holds each lookup's thread until its own timeouts end (resolv.conf:
 * 5 s × attempts, for each search domain: about a minute in a Kubernetes pod). A round asks
 * num_servers servers at once, each up to request_attempts times: lookups in parallel would hold
 * every thread, and stall those signatures for as long as DNS is down. One at a time, they hold one.
 * The price: a name queued behind one the resolver does not answer waits for it (its query times
 * out, as it would have without an answer).
 */
export function oneLookupAtATime(lookup: HostLookup = (host) => systemLookup(host)): HostLookup {
  const resolving = new Map<string, Promise<LookupAddress>>();
  let previous: Promise<unknown> = Promise.resolve();
  return (host) => {
    const family = isIP(host);
    if (family !== 0) return Promise.resolve({ address: host, family });
    const shared = resolving.get(host);
    if (shared) return shared;
    const address = previous.then(() => lookup(host));
    const settled = () => {
      resolving.delete(host);
    };
    previous = address.then(settled, settled);
    resolving.set(host, address);
    return address;
  };
}

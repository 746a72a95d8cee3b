import { type HostLookups, oneLookupAtATime } from '../../src/host-lookup.js';

/**
 * Lookups (src/host-lookup.ts) whose resolver knows one name, at 127.0.0.1, and no other: a
 * connection that reaches a test's server by that name went through them, as the system's resolver
 * does not know it. Keeps the names asked, in order, and counts the sockets that asked. With `held`,
 * answers nothing until `release()`.
 */
export function lookupsKnowing(name: string, options: { held?: boolean } = {}) {
  const asked: string[] = [];
  let release = () => {};
  const released = options.held
    ? new Promise<void>((resolve) => (release = resolve))
    : Promise.resolve();
  const queue = oneLookupAtATime(async (host) => {
    asked.push(host);
    await released;
    if (host !== name) throw Object.assign(new Error(`no ${host}`), { code: 'ENOTFOUND' });
    return [{ address: '127.0.0.1', family: 4 }];
  });
  let socketsAsking = 0;
  const lookups: HostLookups = {
    address: queue.address,
    forSockets: (host, lookupOptions, callback) => {
      socketsAsking++;
      queue.forSockets(host, lookupOptions, callback);
    },
  };
  return { lookups, asked, release, socketsAsking: () => socketsAsking };
}

// Preloaded with `node --import` in a process a test spawns (as test/e2e/cli/cli-http-client.test.ts
// does): the host names in $LOOPBACK_HOSTS (comma-separated) resolve to
// 127.0.0.1 without a DNS query, so that a test can give a client a name that is not loopback
// (one a proxy rule such as NO_PROXY names) and still reach only this machine.
import dns from 'node:dns';
import process from 'node:process';

const names = new Set(
  (process.env.LOOPBACK_HOSTS ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter(Boolean),
);
const realLookup = dns.lookup;

dns.lookup = function lookup(hostname, options, callback) {
  if (!names.has(String(hostname).toLowerCase()))
    return realLookup.call(this, hostname, options, callback);
  const done = typeof options === 'function' ? options : callback;
  const all = typeof options === 'object' && options !== null && options.all === true;
  process.nextTick(() =>
    all ? done(null, [{ address: '127.0.0.1', family: 4 }]) : done(null, '127.0.0.1', 4),
  );
  return {};
};

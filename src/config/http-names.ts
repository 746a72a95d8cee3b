import { isIP } from 'node:net';
import { ConfigError } from './config-error.js';
import type { ServeConfig } from './schema.js';

/** RFC 9110 section 5.6.2: a header field name is a token. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Fields that frame the message or the connection: an ID written there would break the answer. */
const FRAMING_FIELDS = new Set([
  'connection',
  'content-length',
  'host',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * --http-request-id-header-name is written on every response: a name Node refuses to write
 * (empty, a space) made every answer a 500, the health probes' too.
 */
export function checkRequestIdHeaderName(config: ServeConfig): void {
  const name = config.httpRequestIdHeaderName;
  const shown = JSON.stringify(name.slice(0, 100));
  if (!TOKEN.test(name))
    throw new ConfigError(
      'INVALID_VALUE',
      `--http-request-id-header-name ${shown} is not an HTTP header name (RFC 9110 token characters)`,
    );
  if (FRAMING_FIELDS.has(name.toLowerCase()))
    throw new ConfigError(
      'INVALID_VALUE',
      `--http-request-id-header-name ${shown} names a header that frames the message or the connection`,
    );
}

/** proxy-addr's (Fastify's trustProxy) names for ranges. */
const RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * --trusted-proxies, as proxy-addr (Fastify's trustProxy) reads it, refused before anything starts:
 * proxy-addr threw only when the app was built, after the metrics listener had started (exit 1,
 * and with --workers, every worker dying in turn).
 */
export function checkTrustedProxies(config: ServeConfig): void {
  for (const entry of config.trustedProxies) {
    if (!isProxyAddress(entry))
      throw new ConfigError(
        'INVALID_VALUE',
        `--trusted-proxies ${JSON.stringify(entry.slice(0, 100))} is not an IP address, a CIDR range (10.0.0.0/8, 10.0.0.0/255.0.0.0) or one of loopback, linklocal, uniquelocal`,
      );
  }
}

/** An address, address/prefix (1 to 32 or 128 bits) or IPv4 address/netmask, or a range name. */
function isProxyAddress(entry: string): boolean {
  if (RANGE_NAMES.has(entry)) return true;
  const slash = entry.lastIndexOf('/');
  const family = isIP(slash < 0 ? entry : entry.slice(0, slash));
  if (family === 0) return false;
  if (slash < 0) return true;
  const range = entry.slice(slash + 1);
  if (/^[0-9]+$/.test(range)) {
    const bits = Number(range);
    return bits >= 1 && bits <= (family === 4 ? 32 : 128);
  }
  return family === 4 && isNetmask(range);
}

/** A dotted IPv4 netmask: ones then zeros, not all zeros (proxy-addr refuses a 0 range). */
function isNetmask(text: string): boolean {
  if (isIP(text) !== 4) return false;
  const mask = text.split('.').reduce((value, octet) => value * 256 + Number(octet), 0);
  const zeros = 2 ** 32 - 1 - mask;
  return mask !== 0 && (zeros & (zeros + 1)) === 0;
}

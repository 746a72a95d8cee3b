import { isIPv6 } from 'node:net';
import { NtpConfigError } from './ntp-config-error.js';

/** The NTP port, used when a configured server names none (as Go's beevik/ntp does). */
export const NTP_PORT = 123;

export interface NtpServerAddress {
  /** The entry as configured: the metrics' `host` label and the logs' name. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

/** Parses `host`, `host:port`, `[v6]:port` or a bare IPv6 literal. */
export function parseServerAddress(entry: string): NtpServerAddress {
  const name = entry.trim();
  let host = name;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(name);
  if (bracketed) {
    host = bracketed[1] ?? '';
    portText = bracketed[2];
  } else if (!isIPv6(name)) {
    const colon = name.lastIndexOf(':');
    if (colon !== -1) {
      host = name.slice(0, colon);
      portText = name.slice(colon + 1);
    }
  }
  if (
    !host ||
    /[\s/[\]]/.test(host) ||
    (host.includes(':') && !isIPv6(host)) ||
    (bracketed && !isIPv6(host))
  ) {
    throw new NtpConfigError(
      'INVALID_SERVER',
      `invalid ntp server ${JSON.stringify(entry)}: expected host or host:port`,
    );
  }
  let port = NTP_PORT;
  if (portText !== undefined) {
    port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (!(port >= 1 && port <= 65_535)) {
      throw new NtpConfigError(
        'INVALID_SERVER',
        `invalid ntp server ${JSON.stringify(entry)}: port must be 1-65535`,
      );
    }
  }
  return { name, host, port };
}

/**
 * One spelling of a host, so that a server listed or answering under two ("[::1]" and
 * "[0:0:0:0:0:0:0:1]", "127.0.0.1" and "[::ffff:127.0.0.1]") counts once: an IPv6 address
 * compressed and in lower case (RFC 5952, as the WHATWG URL parser writes it), an IPv4-mapped one
 * as its IPv4 address, a name in lower case.
 */
export function canonicalHost(host: string): string {
  if (!isIPv6(host)) return host.toLowerCase();
  let compressed: string;
  try {
    compressed = new URL(`http://[${host}]/`).hostname.slice(1, -1);
  } catch {
    return host.toLowerCase(); // with a zone (fe80::1%eth0), which URLs do not take
  }
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(compressed);
  if (!mapped) return compressed;
  const [high, low] = [parseInt(mapped[1]!, 16), parseInt(mapped[2]!, 16)];
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}

/** `host:port` (`[host]:port` for IPv6) of the canonical host: one server, one key. */
export function serverKey(host: string, port: number): string {
  const canonical = canonicalHost(host);
  return canonical.includes(':') ? `[${canonical}]:${port}` : `${canonical}:${port}`;
}

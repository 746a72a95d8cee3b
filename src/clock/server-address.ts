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

import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { serverKey, type NtpServerAddress } from './server-address.js';
import { CodedError } from '../errors.js';
import { oneLookupAtATime } from '../host-lookup.js';

/**
 * A minimal SNTPv4 client (RFC 4330) on node:dgram: one request, one answer, the clock offset.
 *
 * Why our own and not `ntp-time-sync`: that library is a process-wide singleton that caches its
 * last result and averages all servers into one offset; the monitor needs each server's offset,
 * its round-trip delay, its leap indicator and kiss code, and a timeout per query.
 */

export type SntpFailureReason =
  | 'timeout'
  | 'network'
  | 'malformed'
  /** Stratum 0: the server refuses us (RATE, DENY, RSTR...). RFC 4330 section 8. */
  | 'kiss-o-death'
  /** Leap indicator 3: the server's own clock is not synchronised. */
  | 'alarm'
  | 'bad-stratum'
  /** Reference time 0 (never synchronised), later than its transmit time, or over a day old. */
  | 'bad-reference-time'
  /** Not asked: the address the name resolved to sent a kiss-o'-death (round.ts KissHoldOff). */
  | 'held-off';

export class SntpError extends CodedError<SntpFailureReason> {
  override name = 'SntpError';
  /** With kiss-o-death: the kiss code (DENY, RSTR, RATE...), RFC 4330 section 8. */
  readonly kissCode: string | undefined;
  /** The address (and port) that answered, when one did: what a kiss-o'-death is kept for. */
  address: string | undefined;

  constructor(
    code: SntpFailureReason,
    message: string,
    options?: { cause?: unknown; kissCode?: string },
  ) {
    super(code, message, options);
    this.kissCode = options?.kissCode;
  }

  /** The code, under the name the clock round and its metrics use. */
  get reason(): SntpFailureReason {
    return this.code;
  }
}

export interface SntpSample {
  /** Server clock minus local clock, in ms (RFC 4330 theta). */
  offsetMs: number;
  /** Round-trip delay, in ms (RFC 4330 delta). */
  delayMs: number;
  /**
   * The true offset lies within offsetMs +- errorBoundMs: RFC 5905's root distance, half the
   * round trip plus the server's own root delay / 2 and root dispersion.
   */
  errorBoundMs: number;
  /** The server's root delay and root dispersion (its distance to its reference clock), ms. */
  rootDelayMs?: number;
  rootDispersionMs?: number;
  leapIndicator: number;
  stratum: number;
  /** The server's transmit time (ms since the Unix epoch). */
  serverTimeMs: number;
  /** The address (and port) that answered: a name may stand for many servers (a pool). */
  address?: string;
}

export interface SntpQueryOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** Local wall clock in ms since the Unix epoch. */
  now?: () => number;
  /**
   * Whether the server at this address (and port) asked not to be asked now (a kiss-o'-death):
   * it is then not sent anything, and the query fails as `held-off`.
   */
  heldOff?: (address: string) => boolean;
}

export type SntpQuery = (
  server: NtpServerAddress,
  options: SntpQueryOptions,
) => Promise<SntpSample>;

/** The process's NTP name lookups: one at a time, off most of libuv's thread pool. */
const lookups = oneLookupAtATime();

const PACKET_LENGTH = 48;
const MODE_CLIENT = 3;
const MODE_SERVER = 4;
const VERSION = 4;
/** Seconds from 1900-01-01 (NTP era 0) to 1970-01-01. */
const NTP_UNIX_OFFSET_S = 2_208_988_800;
const TWO_POW_32 = 2 ** 32;
/**
 * RFC 5905 MAXDIST: a larger root distance makes an answer unfit to show agreement. The verdict
 * applies it (verdict.ts `decides`), not the client: such an answer can still prove the clock off.
 */
export const MAX_ROOT_DISTANCE_MS = 1000;
/** A server whose reference time is older than this has not been synchronised for too long. */
export const MAX_REFERENCE_AGE_MS = 24 * 3_600_000;
/** NTP short format (16.16 fixed point seconds, RFC 5905 section 6) to ms. */
const shortToMs = (packet: Buffer, offset: number) => (packet.readUInt32BE(offset) / 65536) * 1000;

/** NTP timestamp (RFC 4330 section 3, with the era rule for dates after 2036) to Unix ms. */
export function ntpToUnixMs(packet: Buffer, offset: number): number {
  let seconds = packet.readUInt32BE(offset);
  const fraction = packet.readUInt32BE(offset + 4);
  if ((seconds & 0x8000_0000) === 0) seconds += TWO_POW_32;
  return (seconds - NTP_UNIX_OFFSET_S) * 1000 + (fraction * 1000) / TWO_POW_32;
}

/** Unix ms to an NTP timestamp (for responders in tests). */
export function unixMsToNtp(ms: number, packet: Buffer, offset: number): void {
  const seconds = Math.floor(ms / 1000);
  const fraction = Math.floor(((ms - seconds * 1000) / 1000) * TWO_POW_32);
  packet.writeUInt32BE((seconds + NTP_UNIX_OFFSET_S) % TWO_POW_32, offset);
  packet.writeUInt32BE(Math.min(fraction, TWO_POW_32 - 1), offset + 4);
}

/** Checks one server reply; undefined when the packet does not answer our request. */
export function readSntpReply(
  packet: Buffer,
  originate: Buffer,
):
  | (Pick<SntpSample, 'leapIndicator' | 'stratum'> & {
      rootDelayMs: number;
      rootDispersionMs: number;
      receiveMs: number;
      transmitMs: number;
    })
  | undefined {
  // A reply must echo our random transmit timestamp as its originate timestamp; anything else
  // (a stray or spoofed datagram) is ignored rather than allowed to fail the query.
  if (packet.length < PACKET_LENGTH || !packet.subarray(24, 32).equals(originate)) return undefined;
  const leapIndicator = packet[0]! >> 6;
  const version = (packet[0]! >> 3) & 0x07;
  const mode = packet[0]! & 0x07;
  const stratum = packet[1]!;
  if (mode !== MODE_SERVER || version < 1 || version > VERSION) {
    throw new SntpError('malformed', `not an NTP server reply (mode ${mode}, version ${version})`);
  }
  if (stratum === 0) {
    const code = packet
      .subarray(12, 16)
      .toString('latin1')
      .replace(/[^\x20-\x7e]/g, '?');
    throw new SntpError('kiss-o-death', `kiss-o'-death ${code}`, { kissCode: code });
  }
  if (leapIndicator === 3)
    throw new SntpError('alarm', 'leap indicator 3: server clock not synchronised');
  if (stratum > 15) throw new SntpError('bad-stratum', `invalid stratum ${stratum}`);
  if (packet.readUInt32BE(40) === 0 && packet.readUInt32BE(44) === 0) {
    throw new SntpError('malformed', 'zero transmit timestamp');
  }
  const transmitMs = ntpToUnixMs(packet, 40);
  if (packet.readUInt32BE(16) === 0 && packet.readUInt32BE(20) === 0) {
    throw new SntpError('bad-reference-time', 'reference time 0: server never synchronised');
  }
  const referenceMs = ntpToUnixMs(packet, 16);
  if (referenceMs > transmitMs) {
    throw new SntpError('bad-reference-time', 'reference time later than the transmit time');
  }
  if (transmitMs - referenceMs > MAX_REFERENCE_AGE_MS) {
    throw new SntpError('bad-reference-time', 'server last synchronised more than a day ago');
  }
  return {
    leapIndicator,
    stratum,
    rootDelayMs: shortToMs(packet, 4),
    rootDispersionMs: shortToMs(packet, 8),
    receiveMs: ntpToUnixMs(packet, 32),
    transmitMs,
  };
}

/** Sends one SNTP request and resolves with the clock offset; rejects with an SntpError. */
export const querySntp: SntpQuery = async (server, options) => {
  const now = options.now ?? Date.now;
  const { signal } = options;
  if (signal?.aborted) throw new SntpError('timeout', 'query aborted');

  let socket: Socket | undefined;
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  let settled = false;
  try {
    return await new Promise<SntpSample>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new SntpError('timeout', `no answer within ${options.timeoutMs} ms`)),
        options.timeoutMs,
      );
      onAbort = () => reject(new SntpError('timeout', 'query aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });

      lookups.address(server.host).then(
        ({ address, family }) => {
          if (settled) return;
          // However the address is spelt (an IPv4-mapped IPv6 one too): one server, one answerer.
          const answerer = serverKey(address, server.port);
          if (options.heldOff?.(answerer)) {
            const held = new SntpError('held-off', `${answerer} asked not to be asked now`);
            held.address = answerer;
            return reject(held);
          }
          const udp = createSocket(family === 6 ? 'udp6' : 'udp4');
          socket = udp;
          // Random transmit timestamp: the reply must echo it, and it does not reveal our clock.
          const originate = randomBytes(8);
          const request = Buffer.alloc(PACKET_LENGTH);
          request[0] = (VERSION << 3) | MODE_CLIENT;
          originate.copy(request, 40);
          // T1/T4 from one wall-clock reading plus monotonic elapsed time, so a step of the wall
          // clock during the query cannot distort the sample.
          let sentAtMs = 0;
          let sentAtMonotonic = 0;
          udp.on('error', (error) =>
            reject(new SntpError('network', error.message, { cause: error })),
          );
          udp.on('message', (packet) => {
            const arrivedAfter = performance.now() - sentAtMonotonic;
            try {
              const reply = readSntpReply(packet, originate);
              if (!reply) return;
              const t1 = sentAtMs;
              const t4 = sentAtMs + arrivedAfter;
              const offsetMs = (reply.receiveMs - t1 + (reply.transmitMs - t4)) / 2;
              const delayMs = t4 - t1 - (reply.transmitMs - reply.receiveMs);
              // The four timestamps (RFC 4330 section 5's T1-T4) bound the offset to
              // [T3 - T4, T2 - T1], delay wide: a server that says it held our request longer
              // than it was gone contradicts itself (empty), and a delay clamped to 0 would give
              // the midpoint with no error at all.
              if (delayMs < 0) {
                throw new SntpError(
                  'malformed',
                  `negative round-trip delay (${delayMs.toFixed(3)} ms): the server's timestamps contradict the round trip`,
                );
              }
              const { rootDelayMs, rootDispersionMs } = reply;
              const errorBoundMs = delayMs / 2 + rootDelayMs / 2 + rootDispersionMs;
              resolve({
                offsetMs,
                delayMs,
                errorBoundMs,
                rootDelayMs,
                rootDispersionMs,
                leapIndicator: reply.leapIndicator,
                stratum: reply.stratum,
                serverTimeMs: reply.transmitMs,
                address: answerer,
              });
            } catch (error) {
              if (error instanceof SntpError) error.address = answerer;
              reject(error);
            }
          });
          // connect() filters datagrams from any other address than the server's.
          udp.connect(server.port, address, () => {
            sentAtMs = now();
            sentAtMonotonic = performance.now();
            udp.send(request, (error) => {
              if (error) reject(new SntpError('network', error.message, { cause: error }));
            });
          });
        },
        (error: Error) =>
          reject(
            new SntpError('network', `cannot resolve ${server.host}: ${error.message}`, {
              cause: error,
            }),
          ),
      );
    });
  } finally {
    settled = true;
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
    try {
      socket?.close();
    } catch {
      // already closed after a socket error
    }
  }
};

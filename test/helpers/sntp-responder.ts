import { onTestFailed } from 'vitest';
import { createSocket, type RemoteInfo } from 'node:dgram';
import { once } from 'node:events';
import { unixMsToNtp } from '../../src/clock/sntp-client.js';
import { parseServerAddress, type NtpServerAddress } from '../../src/clock/server-address.js';
import { waitUntil } from './poll.js';

export interface ReplyOptions {
  /** Added to the responder's clock (server minus true time), ms. */
  offsetMs?: number;
  leapIndicator?: number;
  stratum?: number;
  /** Four ASCII characters: the reference ID, or the kiss code when stratum is 0. */
  referenceId?: string;
  mode?: number;
  /** The responder's clock; Date.now by default. */
  clock?: () => number;
  /** Root delay and root dispersion (bytes 4-11, 16.16 fixed point seconds), ms; 0 by default. */
  rootDelayMs?: number;
  rootDispersionMs?: number;
  /** Reference time (last synchronised) relative to the transmit time, ms; null for 0. */
  referenceAgeMs?: number | null;
}

/** What to send back for one request: a reply, raw bytes, several datagrams, or nothing. */
export type Behaviour = (
  request: Buffer,
) => Buffer | Buffer[] | undefined | Promise<Buffer | Buffer[] | undefined>;

/** An NTP server reply to `request`, as RFC 4330 section 5 describes it. */
export function reply(request: Buffer, options: ReplyOptions = {}): Buffer {
  const packet = Buffer.alloc(48);
  const time = (options.clock ?? Date.now)() + (options.offsetMs ?? 0);
  packet[0] = ((options.leapIndicator ?? 0) << 6) | (4 << 3) | (options.mode ?? 4);
  packet[1] = options.stratum ?? 2;
  packet[2] = 6;
  packet[3] = 0xec;
  packet.write((options.referenceId ?? 'TEST').padEnd(4, '\0').slice(0, 4), 12, 'latin1');
  packet.writeUInt32BE(Math.round(((options.rootDelayMs ?? 0) / 1000) * 65536), 4);
  packet.writeUInt32BE(Math.round(((options.rootDispersionMs ?? 0) / 1000) * 65536), 8);
  if (options.referenceAgeMs !== null)
    unixMsToNtp(time - (options.referenceAgeMs ?? 1000), packet, 16);
  request.copy(packet, 24, 40, 48);
  unixMsToNtp(time, packet, 32);
  unixMsToNtp(time, packet, 40);
  return packet;
}

export const answer =
  (options: ReplyOptions = {}): Behaviour =>
  (request) =>
    reply(request, options);
export const silent: Behaviour = () => undefined;

/** An in-process SNTP responder on 127.0.0.1 and an ephemeral port. */
export class SntpResponder {
  /** Datagrams received. */
  queries = 0;
  behaviour: Behaviour;
  private readonly socket = createSocket('udp4');

  private constructor(behaviour: Behaviour) {
    this.behaviour = behaviour;
    this.socket.on('message', (message, remote) => void this.respond(message, remote));
  }

  static async start(behaviour: Behaviour = answer()): Promise<SntpResponder> {
    const responder = new SntpResponder(behaviour);
    responder.socket.bind(0, '127.0.0.1');
    await once(responder.socket, 'listening');
    return responder;
  }

  get address(): NtpServerAddress {
    return parseServerAddress(`127.0.0.1:${this.socket.address().port}`);
  }

  private async respond(message: Buffer, remote: RemoteInfo): Promise<void> {
    this.queries++;
    const out = await this.behaviour(message);
    for (const datagram of out === undefined ? [] : Array.isArray(out) ? out : [out]) {
      this.socket.send(datagram, remote.port, remote.address);
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/**
 * waitUntil (no deadline of its own), polling `condition` every `everyMs` (10 ms by default), that
 * prints `what` (text, or a function read at that moment) if the test fails while waiting.
 */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string | (() => string) = 'condition',
  everyMs = 10,
): Promise<void> {
  let waiting = true;
  onTestFailed(() => {
    if (waiting) console.error(`still waiting for ${typeof what === 'string' ? what : what()}`);
  });
  await waitUntil(condition, everyMs);
  waiting = false;
}

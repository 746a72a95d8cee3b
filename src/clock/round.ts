import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { ntpSyncTotal, observeNtpLatency } from './clock-metrics.js';
import type { ClockMonitorSettings } from './ntp-config.js';
import type { NtpServerAddress } from './server-address.js';
import {
  SntpError,
  type SntpFailureReason,
  type SntpQuery,
  type SntpSample,
} from './sntp-client.js';

export type LogFn = (fields: object, message: string) => void;

export interface ServerOutcome {
  server: NtpServerAddress;
  sample?: SntpSample;
  failure?: SntpFailureReason;
  attempts: number;
}

/** DENY or RSTR: the server asks us to stop; it is asked again after this (RFC 4330 section 8). */
export const DENY_HOLD_OFF_MS = 24 * 3_600_000;

/**
 * What each server's kiss-o'-death asked for, kept across rounds (RFC 4330 section 8): after DENY
 * or RSTR the server is not asked for a day; after RATE it is left out for 2, 4, 8... periods (at
 * most a day) until it answers again. Kept by the address (and port) that answered, not by the
 * configured name: a pool name stands for many servers, and one of them refusing us must not take
 * the others out (with --require-time-sync, that could hold the gate closed for a day).
 */
export class KissHoldOff {
  /** Address: the monotonic time before which it is not asked. */
  private readonly until = new Map<string, number>();
  /** Address: RATE kisses since its last answer. */
  private readonly rateKisses = new Map<string, number>();

  constructor(
    private readonly periodMs: number,
    private readonly monotonic: () => number,
  ) {}

  /** Whether the server may be asked now. */
  allows(name: string): boolean {
    const until = this.until.get(name);
    return until === undefined || this.monotonic() >= until;
  }

  /** A kiss-o'-death from the server; codes other than DENY, RSTR and RATE change nothing. */
  kissed(name: string, kissCode: string | undefined): void {
    if (kissCode === 'DENY' || kissCode === 'RSTR') {
      this.until.set(name, this.monotonic() + DENY_HOLD_OFF_MS);
    } else if (kissCode === 'RATE') {
      const kisses = (this.rateKisses.get(name) ?? 0) + 1;
      this.rateKisses.set(name, kisses);
      const holdOffMs = Math.min(this.periodMs * 2 ** kisses, DENY_HOLD_OFF_MS);
      this.until.set(name, this.monotonic() + holdOffMs);
    }
  }

  /** A usable answer: the server's rate is back to every period. */
  answered(name: string): void {
    this.rateKisses.delete(name);
    this.until.delete(name);
  }
}

/** An answer not counted: its server answered from the address an earlier answer came from. */
export interface DuplicateAnswer {
  server: NtpServerAddress;
  /** The server whose answer from that address counts. */
  sameAs: NtpServerAddress;
  address: string;
}

/**
 * The round's answers, one per answering address (and port): two configured names of one server
 * (127.0.0.1 and localhost, or two pool names that resolved alike) are one server, and must not
 * count as two agreeing with the clock. The first answer counts. An answer without an address
 * (an injected query) counts by its server's name.
 */
export function onePerAddress(outcomes: readonly ServerOutcome[]): {
  samples: { server: NtpServerAddress; sample: SntpSample }[];
  duplicates: DuplicateAnswer[];
} {
  const counted = new Map<string, NtpServerAddress>();
  const samples: { server: NtpServerAddress; sample: SntpSample }[] = [];
  const duplicates: DuplicateAnswer[] = [];
  for (const { server, sample } of outcomes) {
    if (!sample) continue;
    const key = sample.address ?? `name ${server.name}`;
    const sameAs = counted.get(key);
    if (sameAs) {
      duplicates.push({ server, sameAs, address: key });
    } else {
      counted.set(key, server);
      samples.push({ server, sample });
    }
  }
  return { samples, duplicates };
}

/** What one round needs: the configured servers and attempts, and the monitor's clocks and signal. */
export interface RoundOptions extends Pick<
  ClockMonitorSettings,
  'servers' | 'numServers' | 'requestAttempts' | 'requestTimeoutMs' | 'retryDelayMs'
> {
  query: SntpQuery;
  /** Local wall clock, ms since the Unix epoch. */
  now: () => number;
  /** Uniform in [0, 1), to pick the servers of the round. */
  random: () => number;
  /** Aborts the round (the monitor stops): a query cut short is not a failure of its server. */
  signal: AbortSignal;
  /** Per server and attempt: the round's outcome is what the monitor logs. */
  debug: LogFn;
  /** The servers' kiss-o'-death requests, across rounds: held-off servers are not picked. */
  holdOff?: KissHoldOff;
}

/** Failures where the server did answer, deliberately: asking again within the round is pointless. */
const FINAL_FAILURES: ReadonlySet<SntpFailureReason> = new Set([
  'kiss-o-death',
  'alarm',
  'bad-stratum',
  'bad-reference-time',
]);

/** `count` distinct entries picked uniformly at random (partial Fisher-Yates). */
export function pickServers<T>(servers: readonly T[], count: number, random: () => number): T[] {
  const pool = [...servers];
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(random() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, count);
}

/**
 * One round: asks num_servers servers picked at random, each up to request_attempts times, and
 * resolves with every server's outcome. Counts each query in the NTP metrics.
 */
export function queryRound(options: RoundOptions): Promise<ServerOutcome[]> {
  // A server held off after its kiss-o'-death is picked all the same, and not sent anything once
  // its name resolves to the address that kissed (queryWithRetries): it counts as no answer.
  const count = Math.min(options.numServers, options.servers.length);
  const servers = pickServers(options.servers, count, options.random);
  // In parallel: a round lasts one server's attempts, not num_servers x attempts x timeout.
  return Promise.all(servers.map((server) => queryWithRetries(server, options)));
}

async function queryWithRetries(
  server: NtpServerAddress,
  options: RoundOptions,
): Promise<ServerOutcome> {
  const { requestAttempts, requestTimeoutMs, retryDelayMs, query, now, signal, debug } = options;
  const host = server.name;
  const { holdOff } = options;
  const heldOff = holdOff && ((address: string) => !holdOff.allows(address));
  for (let attempt = 1; ; attempt++) {
    debug({ server: host }, `querying ntp server ${host}`);
    const started = performance.now();
    let failure: SntpFailureReason;
    try {
      const sample = await query(server, {
        timeoutMs: requestTimeoutMs,
        signal,
        now,
        ...(heldOff ? { heldOff } : {}),
      });
      observeNtpLatency(host, performance.now() - started);
      ntpSyncTotal.inc({ host, failed: 'false' });
      options.holdOff?.answered(sample.address ?? host);
      return { server, sample, attempts: attempt };
    } catch (error) {
      // Stopped mid-query: not a failure of the server.
      if (signal.aborted) return { server, failure: 'timeout', attempts: attempt };
      if (error instanceof SntpError && error.reason === 'held-off') {
        // Not asked (its address kissed us): no query to count, no answer this round.
        debug({ server: host, address: error.address }, `ntp server ${host} held off: not asked`);
        return { server, failure: 'held-off', attempts: attempt };
      }
      observeNtpLatency(host, performance.now() - started);
      ntpSyncTotal.inc({ host, failed: 'true' });
      failure = error instanceof SntpError ? error.reason : 'network';
      if (FINAL_FAILURES.has(failure)) {
        const kissCode = error instanceof SntpError ? error.kissCode : undefined;
        if (kissCode !== undefined) {
          options.holdOff?.kissed((error as SntpError).address ?? host, kissCode);
        }
        debug(
          { server: host, reason: failure, ...(kissCode === undefined ? {} : { kissCode }) },
          `unusable ntp answer from ${host}: ${(error as Error).message}`,
        );
        return { server, failure, attempts: attempt };
      }
      debug(
        { server: host, reason: failure, error: (error as Error).message },
        `ntp timeout from ${host}, attempt ${attempt}/${requestAttempts}`,
      );
    }
    if (attempt >= requestAttempts || signal.aborted) {
      debug({ server: host }, `ntp response timeout from ${host}`);
      return { server, failure, attempts: attempt };
    }
    try {
      await sleep(retryDelayMs, undefined, { signal });
    } catch {
      return { server, failure, attempts: attempt };
    }
  }
}

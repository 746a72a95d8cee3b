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
}

/** Failures where the server did answer, deliberately: asking again within the round is pointless. */
const FINAL_FAILURES: ReadonlySet<SntpFailureReason> = new Set([
  'kiss-o-death',
  'alarm',
  'bad-stratum',
  'bad-reference-time',
  'bad-root-distance',
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
  const servers = pickServers(options.servers, options.numServers, options.random);
  // In parallel: a round lasts one server's attempts, not num_servers x attempts x timeout.
  return Promise.all(servers.map((server) => queryWithRetries(server, options)));
}

async function queryWithRetries(
  server: NtpServerAddress,
  options: RoundOptions,
): Promise<ServerOutcome> {
  const { requestAttempts, requestTimeoutMs, retryDelayMs, query, now, signal, debug } = options;
  const host = server.name;
  for (let attempt = 1; ; attempt++) {
    debug({ server: host }, `querying ntp server ${host}`);
    const started = performance.now();
    let failure: SntpFailureReason;
    try {
      const sample = await query(server, { timeoutMs: requestTimeoutMs, signal, now });
      observeNtpLatency(host, performance.now() - started);
      ntpSyncTotal.inc({ host, failed: 'false' });
      return { server, sample, attempts: attempt };
    } catch (error) {
      // Stopped mid-query: not a failure of the server.
      if (signal.aborted) return { server, failure: 'timeout', attempts: attempt };
      observeNtpLatency(host, performance.now() - started);
      ntpSyncTotal.inc({ host, failed: 'true' });
      failure = error instanceof SntpError ? error.reason : 'network';
      if (FINAL_FAILURES.has(failure)) {
        debug(
          { server: host, reason: failure },
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

import {
  accuracyForBound,
  beyondThresholdDetail,
  currentBound,
  steppedBeyond,
  VERDICT_EXPIRED_DETAIL,
  VERDICT_MARGIN_MS,
  type CurrentBound,
  type VerifiedClock,
} from './clock-bound.js';
import {
  CHRONYC_KILL_GRACE_MS,
  checkRefTime,
  ChronyError,
  earliestLocalRefTimeMs,
  readChrony,
  type ChronyRead,
  type ChronyReading,
} from './chrony-client.js';
import { chronyVerdict, type ChronyEvidence } from './chrony-verdict.js';
import {
  clearClockMeasurements,
  clearGauge,
  ntpErrorsTotal,
  ntpOffset,
  recordChronyEvidence,
  recordClockState,
  type ClockState,
} from './clock-metrics.js';
import { genTimeErrorMs, MILLISECOND_GEN_TIME_ERROR_MS } from '../tsp/gen-time.js';
import type { ClockMonitorSettings } from './ntp-config.js';
import { KissHoldOff, onePerAddress, queryRound, type LogFn, type ServerOutcome } from './round.js';
import { querySntp, type SntpQuery } from './sntp-client.js';
import { clockVerdict } from './verdict.js';
import {
  clockJumpDetail,
  DEFAULT_JUMP_TOLERANCE_MS,
  systemMonotonicMs,
  WallClockStepDetector,
} from './wall-clock-step.js';

export type { ClockState } from './clock-metrics.js';

export interface ClockLogger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

export interface ClockStatus {
  readonly state: ClockState;
  /** One fixed sentence saying why (for logs, health answers and the rejection's statusString). */
  readonly detail: string;
  /** Median offset (server minus local, ms) of the servers that answered the last round. */
  readonly offsetMs?: number;
  /** Rounds completed since start. */
  readonly rounds: number;
  /**
   * The accuracy tokens declare now, in ms: with --accuracy auto the bound the last synced round
   * measured plus the wall clock's net steps since and PHI × the time since (see clock-bound.ts;
   * rounded up to the millisecond, plus genTime's own millisecond; with nothing measured,
   * max_time_delta), else the configured accuracy.
   */
  readonly accuracyMs?: number;
  /** With --time-source chrony: what chronyd said about its selected source in the last round. */
  readonly chrony?: ChronyEvidence;
  /** While synced: what was verified, for a cluster worker's own check before each token. */
  readonly verified?: VerifiedClock;
}

export type { VerifiedClock } from './clock-bound.js';

/** --time-source chrony: the monitor reads a local chronyd instead of asking NTP servers. */
export interface ChronySourceOptions {
  /** chronyd's command socket (--chrony-socket). */
  socket: string;
  /** --require-nts: an unauthenticated selected or combined source counts as unverified. */
  requireNts: boolean;
  read?: ChronyRead;
}

export interface ClockMonitorOptions extends ClockMonitorSettings {
  /**
   * The accuracy the tokens declare: a server agrees only within min(max_time_delta, this less
   * genTime's own distance from the clock: 500 ms for whole seconds, else 1 ms; tsp/gen-time.ts).
   * 'auto': the threshold is max_time_delta less 1 ms, and tokens declare the bound each round
   * measured (at most max_time_delta).
   */
  accuracyMs: number | 'auto';
  /** Take the evidence from chronyd rather than from SNTP rounds. */
  chrony?: ChronySourceOptions;
  /** A step of the wall clock against the monotonic clock beyond this closes the gate (default 250 ms). */
  jumpToleranceMs?: number;
  /** How often the wall clock is compared with the monotonic clock between requests (default 1 s). */
  jumpCheckIntervalMs?: number;
  query?: SntpQuery;
  /** Local wall clock, ms since the Unix epoch (the clock genTime is read from). */
  now?: () => number;
  /** A monotonic clock in ms. */
  monotonic?: () => number;
  /**
   * While the clock stays drifted or unverified, how often that is logged again (default 5 min);
   * the state's change, and the recovery, are logged at once.
   */
  reminderIntervalMs?: number;
  /**
   * An unverified clock refuses issuance (--require-time-sync): it is logged as an error that says
   * so, as a drifted one is; else it is a warning (tokens are still issued).
   */
  unverifiedRefuses?: boolean;
  /** Uniform in [0, 1), to pick the servers of a round. */
  random?: () => number;
  logger?: ClockLogger;
  /** Called with every new status (each round, each clock step): a cluster primary relays it. */
  onStatus?: (status: ClockStatus) => void;
}

const silent: ClockLogger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

export const DEFAULT_REMINDER_INTERVAL_MS = 5 * 60_000;

/** The longest delay setTimeout takes (2^31 - 1 ms, 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A round without a usable answer while the clock must be re-verified (`cause`: why). */
const reverifyDetail = ({ detail }: ClockStatus, cause: string) =>
  `re-verification got no usable answer (${detail}), after: ${cause}`;

/**
 * Compares the local clock with NTP servers every period (a round, see round.ts) and keeps a
 * state (the round's verdict, see verdict.ts):
 * - synced: at least server_threshold servers answered and agree within the threshold;
 * - drifted: enough servers answered, too few agree (or the wall clock just stepped);
 * - unverified: too few usable answers, or no round finished yet; drifted instead after a detected
 *   step or a drifted verdict, until a round is synced (see `setStatus`).
 * The threshold is min(max_time_delta, token accuracy less genTime's rounding; see
 * ClockMonitorOptions.accuracyMs). The monitor owns the schedule, the state,
 * its logging and the clock state metrics.
 */
export class ClockMonitor {
  readonly thresholdMs: number;
  /** How long a synced verdict counts without a round after it (see VERDICT_MARGIN_MS). */
  private readonly verdictLifetimeMs: number;
  private readonly settings: ClockMonitorSettings;
  private readonly accuracy: number | 'auto';
  private readonly chrony: (ChronySourceOptions & { read: ChronyRead }) | undefined;
  /** Whether chronyd's last estimate rested on NTS sources only (logged when it changes). */
  private authenticated: boolean | undefined;
  private readonly step: WallClockStepDetector;
  private readonly jumpCheckIntervalMs: number;
  private readonly query: SntpQuery;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly logger: ClockLogger;
  private readonly onStatus: ((status: ClockStatus) => void) | undefined;
  private readonly monotonic: () => number;
  private readonly reminderIntervalMs: number;
  private readonly unverifiedRefuses: boolean;
  /** The servers' kiss-o'-death requests (DENY, RSTR, RATE), kept across rounds. */
  private readonly holdOff: KissHoldOff;
  /** The state the log last reported, when, and the rounds that kept it since (see `report`). */
  private reported: { state: ClockState; atMs: number; rounds: number } | undefined;

  private current: ClockStatus = {
    state: 'unverified',
    detail: 'no NTP round has completed yet',
    rounds: 0,
  };
  /** Why the clock must be re-verified before it may be anything but drifted (see `setStatus`). */
  private mustReverify: string | undefined;
  /** Bumped at each detected clock step; a round that spans a step is discarded. */
  private jumpEpoch = 0;
  /**
   * With chrony: until chronyd has measured the clock since the last detected step, the latest
   * wall time the step's instant had on either side of it (after a backward step of D, the clock
   * read up to D later before it than after). A Ref time up to this may predate the step: its
   * estimate says nothing of the clock now.
   */
  private stepWallMs: number | undefined;
  /** The monotonic instant the last step beyond the tolerance was detected at. */
  private stepMonotonicMs = Number.NEGATIVE_INFINITY;
  /**
   * The last synced evidence, as relayed to a cluster's workers: its bound, and the wall clock's
   * offset from the monotonic clock when it was measured. How far the offset has moved since (the
   * wall clock's steps, however small, net) adds to that bound until the next round, O(1) before
   * each token, as a worker computes it (relayed-clock.ts).
   */
  private verified: VerifiedClock | undefined;
  /** The monotonic time at which the round in flight started asking. */
  private roundStartedMs = 0;
  /** The wall clock minus the monotonic clock then. */
  private roundStartedOffsetMs = 0;
  private running = false;
  private roundTimer: NodeJS.Timeout | undefined;
  private jumpTimer: NodeJS.Timeout | undefined;
  private inFlight: Promise<ClockStatus> | undefined;
  private abort = new AbortController();

  constructor(options: ClockMonitorOptions) {
    const { servers, numServers, serverThreshold, requestAttempts } = options;
    // With chrony the servers are chronyd's: only the period, timeout and threshold are used.
    if (!options.chrony) {
      if (!(numServers >= 1 && servers.length >= numServers))
        throw new RangeError('too few ntp servers configured');
      if (!(serverThreshold >= 1 && serverThreshold <= numServers))
        throw new RangeError('no valid server threshold set');
      if (!(requestAttempts >= 1)) throw new RangeError('request attempts must be at least 1');
    }
    for (const key of ['requestTimeoutMs', 'maxTimeDeltaMs', 'periodMs'] as const) {
      if (!(options[key] > 0)) throw new RangeError(`${key} must be positive`);
    }
    // Beyond setTimeout's range Node fires a timer after 1 ms: rounds in a loop.
    for (const key of ['requestTimeoutMs', 'periodMs'] as const) {
      if (options[key] > MAX_TIMER_MS)
        throw new RangeError(`${key} must be at most ${MAX_TIMER_MS} (a timer)`);
    }
    if (options.accuracyMs !== 'auto' && !(options.accuracyMs > 0))
      throw new RangeError('accuracyMs must be positive');
    this.settings = options;
    this.accuracy = options.accuracyMs;
    this.chrony = options.chrony && { read: readChrony, ...options.chrony };
    // |true time - genTime| <= accuracy: the clock's error is held to the accuracy less genTime's
    // own distance from the clock (tsp/gen-time.ts).
    const fixedMs = options.accuracyMs === 'auto' ? undefined : options.accuracyMs;
    this.thresholdMs =
      fixedMs === undefined
        ? options.maxTimeDeltaMs - MILLISECOND_GEN_TIME_ERROR_MS
        : Math.min(options.maxTimeDeltaMs, fixedMs - genTimeErrorMs(fixedMs));
    if (!(this.thresholdMs > 0))
      throw new RangeError('accuracyMs leaves no room for the rounding of genTime');
    const { requestTimeoutMs, retryDelayMs, periodMs } = options;
    const longestRoundMs = options.chrony
      ? requestTimeoutMs + CHRONYC_KILL_GRACE_MS
      : requestAttempts * requestTimeoutMs + (requestAttempts - 1) * retryDelayMs;
    this.verdictLifetimeMs = periodMs + longestRoundMs + VERDICT_MARGIN_MS;
    this.jumpCheckIntervalMs = options.jumpCheckIntervalMs ?? 1000;
    this.query = options.query ?? querySntp;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.logger = options.logger ?? silent;
    this.unverifiedRefuses = options.unverifiedRefuses ?? false;
    this.onStatus = options.onStatus;
    this.monotonic = options.monotonic ?? systemMonotonicMs;
    this.reminderIntervalMs = options.reminderIntervalMs ?? DEFAULT_REMINDER_INTERVAL_MS;
    this.holdOff = new KissHoldOff(options.periodMs, this.monotonic);
    this.step = new WallClockStepDetector(
      options.jumpToleranceMs ?? DEFAULT_JUMP_TOLERANCE_MS,
      this.now,
      this.monotonic,
    );
    this.current = { ...this.current, accuracyMs: this.tokenAccuracy(undefined) };
    recordClockState(this.current.state);
  }

  /** The accuracy tokens declare given the bound a round measured (see ClockStatus.accuracyMs). */
  private tokenAccuracy(boundMs: number | undefined): number {
    if (this.accuracy !== 'auto') return this.accuracy;
    // Within the threshold, accuracyForBound stays within max_time_delta too.
    if (boundMs === undefined) return this.settings.maxTimeDeltaMs;
    return accuracyForBound(boundMs);
  }

  get status(): ClockStatus {
    return this.current;
  }

  /** Runs a round at once, then one every period, and watches for steps of the wall clock. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    if (this.chrony) {
      this.logger.info(
        { timeSource: 'chrony', socket: this.chrony.socket, thresholdMs: this.thresholdMs },
        'clock monitoring through chronyd starting',
      );
    } else {
      this.logger.info(
        { servers: this.settings.servers.length, thresholdMs: this.thresholdMs },
        'ntp monitoring starting',
      );
    }
    this.jumpTimer = setInterval(() => this.checkForClockJump(), this.jumpCheckIntervalMs).unref();
    this.runRoundInBackground();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.logger.info({}, 'stopping ntp monitoring');
    this.running = false;
    clearTimeout(this.roundTimer);
    clearInterval(this.jumpTimer);
    this.abort.abort();
    await this.inFlight;
  }

  /**
   * Compares how far the wall clock and the monotonic clock moved since the last check. A step
   * (NTP step, manual date change, VM resume) closes the gate and re-verifies at once.
   */
  checkForClockJump(): boolean {
    const stepMs = this.step.check();
    if (stepMs === undefined) return this.checkDivergence();
    this.jumpEpoch++;
    this.stepMonotonicMs = this.monotonic();
    if (this.chrony) {
      const stepWallMs = this.now() + Math.max(0, -stepMs);
      this.stepWallMs = Math.max(this.stepWallMs ?? stepWallMs, stepWallMs);
    }
    this.closeUntilMeasured(clockJumpDetail(stepMs));
    return true;
  }

  /**
   * The wall clock moved from what was verified (a step, or small steps adding up): the gate
   * closes (drifted), nothing counts as verified (the offset and bound gauges read NaN), and a
   * round runs at once.
   */
  private closeUntilMeasured(
    detail: string,
    reason: 'err_clock_jump' | 'err_stale_bound' = 'err_clock_jump',
  ): void {
    this.verified = undefined;
    clearClockMeasurements();
    ntpErrorsTotal.inc({ reason });
    this.setStatus(
      {
        state: 'drifted',
        detail,
        rounds: this.current.rounds,
        accuracyMs: this.tokenAccuracy(undefined),
      },
      true,
    );
    if (this.running) {
      clearTimeout(this.roundTimer);
      this.runRoundInBackground();
    }
  }

  /**
   * While synced: adds how far the wall clock's offset from the monotonic clock has moved since the
   * last verification (steps under the jump tolerance add up here, down to the smallest) to the
   * bound measured then. Beyond the threshold the gate closes and a round runs at once; within,
   * --accuracy auto follows it.
   */
  private checkDivergence(): boolean {
    const { verified } = this;
    if (!verified || this.current.state !== 'synced') return false;
    const nowMs = this.monotonic();
    if (nowMs > verified.expiresAtMs) {
      this.expire();
      return false;
    }
    const bound = currentBound(verified, this.step.wallOffsetMs, nowMs);
    if (bound.boundMs > this.thresholdMs) {
      this.closeUntilMeasured(
        beyondThresholdDetail(verified, bound, 're-verifying'),
        boundFailure(verified, bound),
      );
      return true;
    }
    const accuracyMs = this.tokenAccuracy(bound.boundMs);
    if (accuracyMs !== this.current.accuracyMs) this.setStatus({ ...this.current, accuracyMs });
    return false;
  }

  /**
   * No round has followed the synced verdict within its lifetime (a round hung, the monitor
   * stopped): it counts as no verdict, unverified, closed under --require-time-sync.
   */
  private expire(): void {
    this.verified = undefined;
    clearClockMeasurements();
    this.setStatus({
      state: 'unverified',
      detail: VERDICT_EXPIRED_DETAIL,
      rounds: this.current.rounds,
      accuracyMs: this.tokenAccuracy(undefined),
    });
  }

  /**
   * Records what a round verified (a synced bound, measured at `measuredAtMs` with the wall clock
   * `wallOffsetMs` off the monotonic clock), or nothing, and returns that bound as it stands now
   * (see clock-bound.ts). Beyond the threshold the round's `synced` becomes `drifted` here, with
   * nothing verified: a bound capped at the threshold would declare a false accuracy, and the next
   * token's divergence check would flip the state back and forth, each time with another round
   * that reads the same stale evidence (chronyd's estimate until its next poll).
   */
  private verifiedBound(
    verdict: { state: ClockState; detail: string },
    boundMs: number | undefined,
    measuredAtMs: number,
    wallOffsetMs: number,
  ): { state: ClockState; detail: string; accuracyMs: number; verified?: VerifiedClock } {
    this.verified = undefined;
    if (verdict.state !== 'synced' || boundMs === undefined || !Number.isFinite(measuredAtMs)) {
      return { ...verdict, accuracyMs: this.tokenAccuracy(undefined) };
    }
    const nowMs = this.monotonic();
    const verified: VerifiedClock = {
      boundMs,
      wallOffsetMs,
      measuredAtMs,
      // The next round is due a period after this one ends, and may take its longest.
      expiresAtMs: nowMs + this.verdictLifetimeMs,
      thresholdMs: this.thresholdMs,
      declaresBound: this.accuracy === 'auto',
      unmeasuredAccuracyMs: this.tokenAccuracy(undefined),
    };
    const bound = currentBound(verified, this.step.wallOffsetMs, nowMs);
    if (bound.boundMs > this.thresholdMs) {
      // Steps since the reading, or its age alone (chronyd's last update long ago).
      ntpErrorsTotal.inc({ reason: boundFailure(verified, bound) });
      return {
        state: 'drifted',
        detail: beyondThresholdDetail(verified, bound, 'until a reading brings newer evidence'),
        accuracyMs: this.tokenAccuracy(undefined),
      };
    }
    this.verified = verified;
    return { ...verdict, accuracyMs: this.tokenAccuracy(bound.boundMs), verified };
  }

  private runRoundInBackground(): void {
    this.runRound().catch((error: unknown) =>
      this.logger.error({ err: error }, 'ntp round failed'),
    );
  }

  /** Runs one round now (or joins the one in flight) and resolves with the resulting status. */
  runRound(): Promise<ClockStatus> {
    this.inFlight ??= this.roundsUntilStable().finally(() => {
      this.inFlight = undefined;
      clearTimeout(this.roundTimer);
      if (this.running) {
        this.roundTimer = setTimeout(
          () => this.runRoundInBackground(),
          this.settings.periodMs,
        ).unref();
      }
    });
    return this.inFlight;
  }

  private async roundsUntilStable(): Promise<ClockStatus> {
    for (;;) {
      const epoch = this.jumpEpoch;
      this.roundStartedMs = this.monotonic();
      this.roundStartedOffsetMs = this.now() - this.roundStartedMs;
      const evaluate = this.chrony ? await this.chronyRound(this.chrony) : await this.sntpRound();
      if (this.abort.signal.aborted && !this.running) return this.current;
      // Samples taken on both sides of a step of the wall clock measure two different clocks. A
      // step not yet seen by the watchdog is looked for here: a cluster's workers reopen on this
      // round's status, and their own detectors may have seen the step first.
      this.checkForClockJump();
      if (epoch !== this.jumpEpoch) continue;
      evaluate();
      return this.current;
    }
  }

  private async sntpRound(): Promise<() => void> {
    const outcomes = await this.queryRound();
    return () => this.evaluate(outcomes);
  }

  /**
   * One reading of chronyd; unreachable (no chronyd, no permission, a timeout) or an answer that
   * cannot be (see chrony-client.ts) is unverified.
   */
  private async chronyRound(chrony: ChronySourceOptions & { read: ChronyRead }) {
    const { socket, requireNts, read } = chrony;
    let reading: ChronyReading;
    try {
      reading = await read({
        socket,
        timeoutMs: this.settings.requestTimeoutMs,
        signal: this.abort.signal,
      });
    } catch (error) {
      this.logger.debug({ err: error, socket }, 'cannot read chronyd');
      return () => this.chronyUnusable(error);
    }
    return () => {
      const stepWallMs = this.stepWallMs;
      const updatedMs = earliestLocalRefTimeMs(reading.tracking);
      // chronyd notices a step under 10 s only at its next measurement (64 s to 17 min later):
      // until then its tracking still describes the clock before the step.
      if (stepWallMs !== undefined && updatedMs <= stepWallMs) {
        this.holdAfterStep(reading.tracking.refTime);
        return;
      }
      // After the hold: a backward step makes the Ref time before it read as later than now.
      try {
        checkRefTime(reading.tracking, this.now());
      } catch (error) {
        this.chronyUnusable(error);
        return;
      }
      this.stepWallMs = undefined;
      this.evaluateChrony(
        chronyVerdict(reading, { thresholdMs: this.thresholdMs, requireNts }),
        updatedMs,
      );
    };
  }

  private chronyUnusable(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    const output = error instanceof ChronyError && error.code === 'CHRONYC_OUTPUT';
    this.evaluateChrony({
      state: 'unverified',
      detail: output
        ? `unusable answer from chronyd: ${message}`
        : `chronyd not reachable: ${message}`,
    });
  }

  /** Keeps the gate closed after a step while chronyd's last measurement predates it. */
  private holdAfterStep(refTime: number): void {
    const last = refTime > 0 ? new Date(refTime * 1000).toISOString() : 'never';
    this.verified = undefined;
    clearClockMeasurements();
    this.setStatus({
      state: 'drifted',
      detail: `local clock jumped; waiting for chronyd's next measurement (its last, ${last}, predates the step)`,
      rounds: this.current.rounds + 1,
      accuracyMs: this.tokenAccuracy(undefined),
    });
  }

  /**
   * `updatedMs`: chronyd's last update, when its evidence is from, on the local wall clock
   * (earliestLocalRefTimeMs).
   */
  private evaluateChrony(
    { state, detail, evidence }: ReturnType<typeof chronyVerdict>,
    updatedMs?: number,
  ): void {
    recordChronyEvidence(evidence);
    if (state === 'drifted') ntpErrorsTotal.inc({ reason: 'err_inv_time' });
    // Unverified with evidence: a selected or combined source not NTS-authenticated (--require-nts).
    if (state === 'unverified')
      ntpErrorsTotal.inc({ reason: evidence ? 'err_not_authenticated' : 'err_too_few' });
    if (evidence && evidence.authenticated !== this.authenticated) {
      const { reference, unauthenticated } = evidence;
      const fields = { timeSource: 'chrony', reference };
      if (unauthenticated === undefined) {
        this.logger.info(fields, `time source ${reference} is NTS-authenticated`);
      } else {
        const which =
          unauthenticated === reference
            ? `time source ${reference} is`
            : `time source ${reference} is combined with ${unauthenticated}, which is`;
        this.logger.warn(
          { ...fields, authenticated: false, unauthenticated },
          `${which} not authenticated (no NTS): its time could be forged on the path`,
        );
      }
    }
    if (evidence) this.authenticated = evidence.authenticated;
    const rounds = this.current.rounds + 1;
    // The wall clock's offset when chronyd measured it, from the detector's history: every step
    // since, however small, counts (the offset now less that).
    const measuredAtMs =
      updatedMs === undefined ? Number.NEGATIVE_INFINITY : this.chronyMeasuredAt(updatedMs);
    const checked = this.verifiedBound(
      { state, detail },
      evidence?.boundMs,
      measuredAtMs,
      this.step.offsetAt(measuredAtMs),
    );
    this.setStatus({
      rounds,
      ...(evidence ? { offsetMs: evidence.offsetMs, chrony: evidence } : {}),
      ...checked,
    });
  }

  /**
   * The monotonic instant of chronyd's last update (`updatedMs`, the local wall clock then), or
   * earlier: the wall clock read updatedMs at the monotonic instant updatedMs less its offset
   * then, which is at most the highest offset it has had since the last detected step (an
   * earlier instant counts more of the steps since, and ages the bound more: safe). Never before
   * that step: the step hold let this reading through only if chronyd measured the clock after
   * it, so that step is in its estimate.
   */
  private chronyMeasuredAt(updatedMs: number): number {
    const floor = this.stepMonotonicMs;
    const measuredAt = updatedMs - this.step.highestOffsetSince(floor);
    return Math.max(floor, Math.min(this.monotonic(), measuredAt));
  }

  private queryRound(): Promise<ServerOutcome[]> {
    return queryRound({
      ...this.settings,
      query: this.query,
      now: this.now,
      random: this.random,
      holdOff: this.holdOff,
      signal: this.abort.signal,
      debug: (fields, message) => this.logger.debug(fields, message),
    });
  }

  private evaluate(outcomes: ServerOutcome[]): void {
    const { samples, duplicates } = onePerAddress(outcomes);
    for (const { server, sameAs, address } of duplicates) {
      this.logger.debug(
        { server: server.name, sameAs: sameAs.name, address },
        `ntp servers ${sameAs.name} and ${server.name} answered from ${address}: counted once`,
      );
    }
    const { serverThreshold, numServers } = this.settings;
    const verdict = clockVerdict(samples, {
      thresholdMs: this.thresholdMs,
      serverThreshold,
      numServers,
    });
    for (const { server, sample } of verdict.disagreeing) {
      this.logger.debug(
        { server: server.name, offsetMs: sample.offsetMs, delayMs: sample.delayMs },
        `local time is different from ${server.name}: ${new Date(sample.serverTimeMs).toISOString()}`,
      );
    }
    // Go's two error counts, with kiss-o'-death and alarm answers counted as no answer.
    if (verdict.tooFewAnswers) ntpErrorsTotal.inc({ reason: 'err_too_few' });
    if (verdict.tooFewAgreeing) ntpErrorsTotal.inc({ reason: 'err_inv_time' });
    const { state, detail, offsetMs, boundMs } = verdict;
    // No answer this round: no offset, rather than the last round's.
    if (offsetMs === undefined) clearGauge(ntpOffset);
    else ntpOffset.set(offsetMs / 1000);
    const rounds = this.current.rounds + 1;
    const base = offsetMs === undefined ? { rounds } : { rounds, offsetMs };
    // The servers measured the clock from the round's start: steps since add to their bound.
    const checked = this.verifiedBound(
      { state, detail },
      boundMs,
      this.roundStartedMs,
      this.roundStartedOffsetMs,
    );
    this.setStatus({ ...base, ...checked });
  }

  /**
   * Sets the status, through the re-verification latch: a drifted status (a step, steps adding up,
   * the hold after a step, a drifted verdict) sets it, only a synced verdict clears it, and while
   * it is set a round without a usable answer stays drifted. Unverified lets tokens through by
   * default: a clock known to be off must not reopen the gate for want of an answer.
   */
  private setStatus(latest: ClockStatus, always = false): void {
    let status = latest;
    if (status.state === 'synced') this.mustReverify = undefined;
    else if (status.state === 'drifted') this.mustReverify = status.detail;
    else if (this.mustReverify !== undefined) {
      status = { ...status, state: 'drifted', detail: reverifyDetail(status, this.mustReverify) };
    }
    this.current = status;
    recordClockState(status.state);
    this.onStatus?.(status);
    this.report(status, always);
  }

  /**
   * Logs a change of state at once (recovery included), then, while drifted or unverified, a
   * reminder at most every `reminderIntervalMs` with the rounds since the last line: a server
   * behind a firewall must not write an error per server and round (Go: four a minute).
   */
  private report(status: ClockStatus, always: boolean): void {
    const nowMs = this.monotonic();
    const previous = this.reported;
    const changed = previous?.state !== status.state;
    if (!changed && !always && nowMs - previous.atMs < this.reminderIntervalMs) {
      previous.rounds++;
      return;
    }
    this.reported = { state: status.state, atMs: nowMs, rounds: 0 };
    const { chrony } = status;
    const fields = {
      clockState: status.state,
      offsetMs: status.offsetMs,
      ...(chrony
        ? {
            timeSource: 'chrony',
            reference: chrony.reference,
            authenticated: chrony.authenticated,
            sampleOffsetMs: chrony.sampleOffsetMs,
            rootDispersionMs: chrony.rootDispersionMs,
            boundMs: chrony.boundMs,
          }
        : {}),
    };
    if (status.state === 'synced') {
      if (changed) this.logger.info(fields, `clock synced: ${status.detail}`);
      return;
    }
    const still = changed ? '' : 'still ';
    const since = changed ? {} : { roundsSinceLastReport: previous.rounds + 1 };
    if (status.state === 'drifted') {
      this.logger.error(
        { ...fields, ...since },
        `clock ${still}drifted, issuance refused: ${status.detail}`,
      );
    } else if (this.unverifiedRefuses) {
      this.logger.error(
        { ...fields, ...since },
        `clock ${still}unverified, issuance refused (time sync required): ${status.detail}`,
      );
    } else {
      this.logger.warn({ ...fields, ...since }, `clock ${still}unverified: ${status.detail}`);
    }
  }
}

/** The errors-counter reason of a bound beyond the threshold: steps since it, or its age. */
function boundFailure(
  verified: VerifiedClock,
  bound: CurrentBound,
): 'err_clock_jump' | 'err_stale_bound' {
  return steppedBeyond(verified, bound) ? 'err_clock_jump' : 'err_stale_bound';
}

import { execFile } from 'node:child_process';
import { CodedError } from '../errors.js';

/**
 * Reads a local chronyd through its command socket with `chronyc -c` (CSV): `tracking`, `sources`
 * and `authdata` in one process per read. Why chronyc rather than chrony's command protocol
 * (candm.h) spoken directly: the protocol needs a Unix *datagram* socket, which Node's dgram does
 * not offer (udp4/udp6 only), and over UDP chronyd refuses `authdata` ("501 Not authorised");
 * chronyc is also matched to its chronyd's protocol version by the package. See docs/clock.md.
 */

export type ChronyErrorCode = 'CHRONYC_FAILED' | 'CHRONYC_TIMEOUT' | 'CHRONYC_OUTPUT';

export class ChronyError extends CodedError<ChronyErrorCode> {
  override name = 'ChronyError';
}

/** chronyd's leap status, as `chronyc -c tracking` spells it. */
export type LeapStatus = 'Normal' | 'Insert second' | 'Delete second' | 'Not synchronised';

/** `chronyc -c tracking`: the reference chronyd follows and its estimate of the local clock. */
export interface ChronyTracking {
  /** Reference ID, hex (7F000001); 00000000 when unsynchronised. */
  refId: string;
  /** The reference's address (or refclock name). */
  reference: string;
  stratum: number;
  /** Seconds since the Unix epoch of the last update. */
  refTime: number;
  /**
   * "System time" in seconds: how far the local clock is behind the NTP time (positive: local is
   * slow). With chronyd -x (no clock control) it is the free-running clock's whole offset.
   */
  systemTime: number;
  rootDelay: number;
  rootDispersion: number;
  leapStatus: LeapStatus;
}

/** One line of `chronyc -c sources`. */
export interface ChronySource {
  /** ^ server, = peer, # reference clock. */
  mode: string;
  /** * selected, + combined, - not combined, ? unreachable, x falseticker, ~ too variable. */
  state: string;
  name: string;
  stratum: number;
  /** The reachability register, 0-255 (printed in octal). */
  reach: number;
  /**
   * The last sample, seconds, with `sources`' sign: positive when chronyd's clock (its estimate of
   * true time) was ahead of the source, the opposite of System time's (chronyd 4.3, -x, after its
   * source jumped 2 s ahead: -2.0 s measured, +0.36 s System time). Adjusted: as measured, less
   * chronyd's corrections since, so the part of the sample System time has not yet taken in.
   */
  sampleOffset: number;
  /** The last sample as measured. */
  sampleMeasuredOffset: number;
  /** The last sample's error (its root distance: root delay / 2 + root dispersion), >= 0. */
  sampleError: number;
}

/** One line of `chronyc -c authdata`. */
export interface ChronyAuthData {
  name: string;
  /** NTS, SK (symmetric key) or - (none). */
  mode: string;
}

export interface ChronyReading {
  tracking: ChronyTracking;
  sources: ChronySource[];
  authdata: ChronyAuthData[];
}

const LEAP_STATUSES: readonly string[] = [
  'Normal',
  'Insert second',
  'Delete second',
  'Not synchronised',
];

function number(field: string | undefined, what: string): number {
  const value = Number(field);
  if (field === undefined || field === '' || !Number.isFinite(value)) {
    throw new ChronyError('CHRONYC_OUTPUT', `chronyc: ${what} is not a number`);
  }
  return value;
}

/**
 * A tracking line, with what chronyd can never report refused: a negative root delay or dispersion
 * (it would shrink the bound on the clock's error), or a stratum outside 1-15 (RFC 5905's range of
 * a synchronised clock; chronyd reports 0 only while unsynchronised).
 */
export function parseTracking(line: string): ChronyTracking {
  const f = line.split(',');
  if (f.length !== 14) throw new ChronyError('CHRONYC_OUTPUT', 'chronyc: unexpected tracking line');
  const leapStatus = f[13]!;
  if (!LEAP_STATUSES.includes(leapStatus)) {
    throw new ChronyError('CHRONYC_OUTPUT', 'chronyc: unknown leap status');
  }
  const tracking: ChronyTracking = {
    refId: f[0]!,
    reference: f[1]!,
    stratum: number(f[2], 'stratum'),
    refTime: number(f[3], 'ref time'),
    systemTime: number(f[4], 'system time'),
    rootDelay: number(f[10], 'root delay'),
    rootDispersion: number(f[11], 'root dispersion'),
    leapStatus: leapStatus as LeapStatus,
  };
  if (tracking.rootDelay < 0 || tracking.rootDispersion < 0) {
    throw new ChronyError('CHRONYC_OUTPUT', 'chronyc: negative root delay or dispersion');
  }
  const { stratum } = tracking;
  const unsynchronised = leapStatus === 'Not synchronised' && stratum === 0;
  if (!unsynchronised && !(Number.isInteger(stratum) && stratum >= 1 && stratum <= 15)) {
    throw new ChronyError('CHRONYC_OUTPUT', `chronyc: stratum ${stratum} outside 1-15`);
  }
  return tracking;
}

/**
 * How far chronyd's last update on the local wall clock may be from what Ref time less the System
 * time now says: the two clocks' readings, and how far System time has moved since the update
 * (what chronyd has slewed off since; with chronyd -x, the free-running clock's drift).
 */
const REF_TIME_SLACK_MS = 1000;

/**
 * chronyd's last update on the local wall clock (ms since the Unix epoch), as early as it can have
 * been. Ref time is on chronyd's NTP clock, which is System time ahead of the local clock
 * (chrony's sign: positive, the local clock is slow; with chronyd -x, the clock's whole offset):
 * compared with the local clock as it is, a clock 4 s slow would take an update from before a
 * step for one 4 s later, after it.
 */
export function earliestLocalRefTimeMs(tracking: ChronyTracking): number {
  return (tracking.refTime - tracking.systemTime) * 1000 - REF_TIME_SLACK_MS;
}

/**
 * Refuses a tracking whose Ref time is in the future: taken as fresh, it would pass the hold after
 * a step, and the wall clock's steps since it would not count. `nowMs`: the local wall clock now.
 */
export function checkRefTime(tracking: ChronyTracking, nowMs: number): void {
  if (earliestLocalRefTimeMs(tracking) > nowMs) {
    throw new ChronyError('CHRONYC_OUTPUT', 'chronyc: ref time is in the future');
  }
}

const SOURCE_MODES = new Set(['^', '=', '#']);

function isSourceLine(fields: readonly string[]): boolean {
  return fields.length === 10 && SOURCE_MODES.has(fields[0]!) && fields[1]!.length === 1;
}

/** A sources line, with a negative sample error refused (it would shrink the bound). */
export function parseSource(fields: readonly string[]): ChronySource {
  const reach = Number.parseInt(fields[5]!, 8);
  if (!/^[0-7]{1,3}$/.test(fields[5]!) || reach > 255) {
    throw new ChronyError('CHRONYC_OUTPUT', 'chronyc: unexpected reachability');
  }
  const source: ChronySource = {
    mode: fields[0]!,
    state: fields[1]!,
    name: fields[2]!,
    stratum: number(fields[3], 'stratum'),
    reach,
    sampleOffset: number(fields[7], 'sample offset'),
    sampleMeasuredOffset: number(fields[8], 'measured sample offset'),
    sampleError: number(fields[9], 'sample error'),
  };
  if (source.sampleError < 0) {
    throw new ChronyError('CHRONYC_OUTPUT', 'chronyc: negative sample error');
  }
  return source;
}

/**
 * Splits the output of `chronyc -c -n -m tracking sources authdata`: one tracking line, then the
 * sources (their first field is a mode character), then the authdata lines.
 */
export function parseChronycOutput(text: string): ChronyReading {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  const first = lines.shift();
  if (first === undefined) throw new ChronyError('CHRONYC_OUTPUT', 'chronyc: no output');
  const tracking = parseTracking(first);
  const sources: ChronySource[] = [];
  const authdata: ChronyAuthData[] = [];
  for (const line of lines) {
    const fields = line.split(',');
    if (authdata.length === 0 && isSourceLine(fields)) {
      sources.push(parseSource(fields));
    } else if (fields.length === 10) {
      authdata.push({ name: fields[0]!, mode: fields[1]! });
    } else {
      throw new ChronyError('CHRONYC_OUTPUT', 'chronyc: unexpected line');
    }
  }
  return { tracking, sources, authdata };
}

export interface ChronyReadOptions {
  /** chronyd's command socket (chronyc -h accepts a path). */
  socket: string;
  timeoutMs: number;
  signal?: AbortSignal;
  /** The chronyc binary (default: `chronyc` on PATH). */
  chronyc?: string;
}

export type ChronyRead = (options: ChronyReadOptions) => Promise<ChronyReading>;

/** After SIGTERM at the deadline, how long chronyc has to exit before SIGKILL. */
export const CHRONYC_KILL_GRACE_MS = 1000;

/**
 * Runs chronyc once. It binds its own reply socket (chronyc.<pid>.sock) in the command socket's
 * directory, so this process needs write access there (see docs/clock.md). chronyc is told to give
 * up by itself before our deadline (`timeout`: its first wait, doubled for its one retry), so a
 * hung chronyd yields chronyc's own "506 Cannot talk to daemon" and chronyc removes its socket; at
 * the deadline it gets SIGTERM (which it also cleans up after), SIGKILL only if it outlives that.
 */
export const readChrony: ChronyRead = ({ socket, timeoutMs, signal, chronyc = 'chronyc' }) =>
  new Promise((resolve, reject) => {
    // 1 + 2 waits of a quarter: chronyc gives up at three quarters of the deadline.
    const waitMs = Math.max(1, Math.floor(timeoutMs / 4));
    const args = ['-c', '-n', '-m', '-h', socket, `timeout ${waitMs}`, 'retries 1'];
    let timedOut = false;
    let killer: NodeJS.Timeout | undefined;
    const child = execFile(
      chronyc,
      [...args, 'tracking', 'sources', 'authdata'],
      signal ? { signal } : {},
      (error, stdout, stderr) => {
        clearTimeout(deadline);
        clearTimeout(killer);
        if (error) {
          // chronyc's own words ("506 Cannot talk to daemon", which it prints on stdout): a path
          // at most, never a secret.
          const lastOut = String(stdout).trim().split('\n').at(-1);
          const said = String(stderr).trim().split('\n')[0] || lastOut || error.message;
          reject(
            new ChronyError(
              timedOut ? 'CHRONYC_TIMEOUT' : 'CHRONYC_FAILED',
              timedOut ? `chronyc gave no answer within ${timeoutMs} ms` : `chronyc: ${said}`,
              { cause: error },
            ),
          );
          return;
        }
        try {
          resolve(parseChronycOutput(String(stdout)));
        } catch (parseError) {
          reject(parseError as Error);
        }
      },
    );
    const deadline = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      killer = setTimeout(() => child.kill('SIGKILL'), CHRONYC_KILL_GRACE_MS);
    }, timeoutMs);
  });

/**
 * How genTime is written from the local clock, and how far from it: the clock gate keeps the
 * clock's error within the declared accuracy less this, so |true time - genTime| <= accuracy.
 */

/**
 * genTime to the second, rounded to the nearest, is at most half a second from the clock
 * (Date.now() truncates to the millisecond first: a reading of .500 rounds up, the clock then
 * being .500 to .501, so at most 500 ms above it; .499 down, below .500).
 */
export const WHOLE_SECOND_GEN_TIME_ERROR_MS = 500;

/** genTime to the millisecond, as Date.now() reads it: truncated, up to 1 ms behind the clock. */
export const MILLISECOND_GEN_TIME_ERROR_MS = 1;

/**
 * Whether tokens that declare the fixed accuracy `fixedAccuracyMs` (undefined for a measured one,
 * --accuracy auto) get a genTime of whole seconds: as the Go server and OpenSSL write it, for an
 * accuracy of whole seconds only.
 */
export function wholeSecondGenTime(fixedAccuracyMs: number | undefined): boolean {
  return fixedAccuracyMs !== undefined && fixedAccuracyMs % 1000 === 0;
}

/** The most genTime can differ from the local clock, for tokens that declare `fixedAccuracyMs`. */
export function genTimeErrorMs(fixedAccuracyMs: number | undefined): number {
  return wholeSecondGenTime(fixedAccuracyMs)
    ? WHOLE_SECOND_GEN_TIME_ERROR_MS
    : MILLISECOND_GEN_TIME_ERROR_MS;
}

/** genTime for a token issued at `nowMs` (Date.now()) that declares `fixedAccuracyMs`. */
export function genTimeFor(nowMs: number, fixedAccuracyMs: number | undefined): Date {
  // Rounded, not truncated as Go does: half a second either way, not up to a whole second late.
  const wholeSeconds = wholeSecondGenTime(fixedAccuracyMs);
  return new Date(wholeSeconds ? Math.round(nowMs / 1000) * 1000 : nowMs);
}

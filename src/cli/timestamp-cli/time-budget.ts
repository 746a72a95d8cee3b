/**
 * What is left of one --timeout that several requests share: a GET and its retry, or every GET of
 * a command that gets one --timeout in all (log-proof). Each request is given what is left when it
 * starts, so together they never take longer than the --timeout.
 */
export class TimeBudget {
  private readonly end: number | undefined;

  /**
   * `timeoutMs`: the --timeout (0: none), from now. `now`: the clock in milliseconds, monotonic
   * (performance.now); the tests give their own.
   */
  constructor(
    timeoutMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.end = timeoutMs > 0 ? now() + timeoutMs : undefined;
  }

  /**
   * Whole milliseconds left, at least 1 while any is (a timeout of 0 would mean none); 0 once
   * spent; undefined without a --timeout.
   */
  leftMs(): number | undefined {
    if (this.end === undefined) return undefined;
    return Math.max(0, Math.ceil(this.end - this.now()));
  }
}

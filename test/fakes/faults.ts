/**
 * Fault injection shared by the fake services. Set the fields between requests; each fake turns
 * the decided fault into its own protocol's error.
 */
export class Faults {
  /** Added before every answer. */
  latencyMs = 0;
  /** Answer this many calls with the service's throttling error, then behave. */
  throttleCount = 0;
  /** Answer every call with this server error status (e.g. 500, 503) while set. */
  errorStatus: number | undefined;
  /** Never answer while set (the connection stays open). */
  hang = false;
  /** Reset the connection (TCP RST) instead of answering while set. */
  resetConnection = false;
  /** Answer 200 with an HTML page (a proxy's, a captive portal's) while set: HTTP fakes only. */
  page = false;
  /** Operations seen, in order (e.g. "Sign", "GetPublicKey"). */
  readonly calls: string[] = [];

  /** Which fault applies to this call, after the latency. */
  async decide(
    operation: string,
  ): Promise<'hang' | 'reset' | 'page' | 'throttle' | 'error' | 'ok'> {
    this.calls.push(operation);
    if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
    if (this.hang) return 'hang';
    if (this.resetConnection) return 'reset';
    if (this.page) return 'page';
    if (this.throttleCount > 0) {
      this.throttleCount--;
      return 'throttle';
    }
    if (this.errorStatus !== undefined) return 'error';
    return 'ok';
  }

  reset(): void {
    this.latencyMs = 0;
    this.throttleCount = 0;
    this.errorStatus = undefined;
    this.hang = false;
    this.resetConnection = false;
    this.page = false;
    this.calls.length = 0;
  }

  count(operation: string): number {
    return this.calls.filter((call) => call === operation).length;
  }
}

/** What a proxy or captive portal answers in the service's place: 200, and a page. */
export const PAGE_BODY = '<html><body><h1>Sign in to the network</h1></body></html>';

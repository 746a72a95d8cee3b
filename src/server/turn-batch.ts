/** Schedules a callback once the event loop has run this turn's I/O callbacks. */
export type AfterIo = (callback: () => void) => void;

// Taken when the module loads: a test that fakes timers later must not stall every request.
const checkPhase: AfterIo = setImmediate;

/**
 * Runs `work` on the items added during one turn of the event loop together, back to back, once
 * the turn's I/O callbacks have run (setImmediate: the check phase). A loaded server reads many
 * requests in one turn. Made one after another, their tokens find the signing code and OpenSSL's
 * tables (a P-256 signature reads ~150 KB of precomputed points) still in the CPU's caches; made
 * one between each request's HTTP parsing and writing, each signature costs half as much again
 * (docs/performance.md, "Tokens in turns"). With one request in a turn it is one turn later.
 *
 * An item whose work throws or rejects is rejected alone.
 */
export class TurnBatch<Item, Result> {
  private items: Item[] = [];
  private settlers: Settler<Result>[] = [];

  constructor(
    private readonly work: (item: Item) => Result | PromiseLike<Result>,
    private readonly afterIo: AfterIo = checkPhase,
  ) {}

  add(item: Item): Promise<Result> {
    if (this.items.length === 0) this.afterIo(this.runBatch);
    this.items.push(item);
    return new Promise((resolve, reject) => this.settlers.push({ resolve, reject }));
  }

  private readonly runBatch = (): void => {
    const { items, settlers } = this;
    this.items = [];
    this.settlers = [];
    for (let i = 0; i < items.length; i++) {
      const settler = settlers[i]!;
      try {
        settler.resolve(this.work(items[i]!));
      } catch (error) {
        settler.reject(error);
      }
    }
  };
}

interface Settler<Result> {
  resolve: (result: Result | PromiseLike<Result>) => void;
  reject: (error: unknown) => void;
}

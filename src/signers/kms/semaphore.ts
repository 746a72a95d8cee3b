import { untilAborted } from '../../deadline.js';

/** A counting semaphore whose waiters give up when their signal aborts. */
export class Semaphore {
  private readonly waiters: (() => void)[] = [];

  constructor(private available: number) {}

  /** Callers waiting for a slot now. */
  get waiting(): number {
    return this.waiters.length;
  }

  /** A free slot's release at once, or undefined when every slot is taken. */
  tryAcquire(): (() => void) | undefined {
    if (this.available <= 0) return undefined;
    this.available--;
    return this.releaser();
  }

  /** Resolves with the slot's release (calling it twice releases once), in order of arrival. */
  async acquire(signal: AbortSignal): Promise<() => void> {
    if (this.available > 0) {
      this.available--;
    } else {
      let wake!: () => void;
      const granted = new Promise<void>((resolve) => (wake = resolve));
      this.waiters.push(wake);
      try {
        await untilAborted(granted, signal);
      } catch (error) {
        const index = this.waiters.indexOf(wake);
        if (index >= 0) this.waiters.splice(index, 1);
        else this.release(); // granted while aborting: pass the slot on
        throw error;
      }
    }
    return this.releaser();
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (!released) {
        released = true;
        this.release();
      }
    };
  }

  private release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.available++;
  }
}

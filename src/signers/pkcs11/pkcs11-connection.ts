import { untilAborted } from '../../deadline.js';
import { CKF_SERIAL_SESSION } from './pkcs11-constants.js';
import type { Pkcs11Error } from './pkcs11-error.js';
import { pkcs11SessionsOpened, pkcs11SessionsOpen } from './pkcs11-metrics.js';
import type { Handle, LoadedModule } from './pkcs11-module.js';

/** What a connection needs of its signer. */
export interface ConnectionContext {
  readonly module: LoadedModule;
  /** The key's URI, for the cap's warning. */
  readonly id: string;
  /** --pkcs11-max-sessions: the sessions a connection keeps at most (see keepOpened). */
  readonly maxSessions: number;
  /** The signer's monotonic clock (ms), for the cap. */
  readonly now: () => number;
  readonly warn: ((message: string) => void) | undefined;
  /** The signer's naming of a module call's error. */
  readonly wrap: (error: unknown, name: string) => Pkcs11Error;
}

/** How long a session pool the token capped (CKR_SESSION_COUNT) waits before asking for another. */
export const SESSION_RETRY_MS = 30_000;

/**
 * The token and key a PKCS#11 signer found in one generation of its module, and the pool of
 * sessions it opened there. Its handles (and its sessions') are valid until the module is
 * re-initialized, after which they may name other objects. So a session is pooled only while the
 * connection is current (its signer's, in the module's generation), and closed only in its
 * generation: after it, it is forgotten.
 */
export class Pkcs11Connection {
  /** Its sessions open, idle or signing. */
  sessions = 1;
  /**
   * When the token last refused it another session (CKR_SESSION_COUNT: the partition's limit,
   * shared with other workers and applications), or undefined: it signs with those it has, and asks
   * for one more at most every SESSION_RETRY_MS (the others may have closed theirs since).
   */
  cappedAt: number | undefined;
  /** Whether the cap was warned of (once per connection, however often the pool shrinks). */
  private capWarned = false;
  private readonly idle: Handle[];
  /** Signatures waiting for one of its sessions (capped), the first served first. */
  private readonly waiters: ((session: Handle | undefined) => void)[] = [];
  /** Set once its signer no longer signs with it (see retire). */
  private retired = false;

  /** Pools `session`, the one the connection was found in (counted from now on). */
  constructor(
    readonly slot: Handle,
    readonly key: Handle,
    readonly generation: number,
    session: Handle,
    private readonly context: ConnectionContext,
  ) {
    this.idle = [session];
    pkcs11SessionsOpened.inc();
    pkcs11SessionsOpen.inc();
  }

  /** Whether it is still its signer's, in the module's current generation. */
  get current(): boolean {
    return !this.retired && this.generation === this.context.module.generation;
  }

  /**
   * Its signer no longer signs with it: its idle sessions are closed (`close`: a token error, the
   * signer closed), or forgotten (`forget`: its generation is gone, and their handles may name
   * another signer's sessions now); the signatures waiting for one try again.
   */
  retire(sessions: 'close' | 'forget'): void {
    if (this.retired) return;
    this.retired = true;
    if (sessions === 'close') {
      for (const session of this.idle.splice(0)) this.closeSession(session);
    } else {
      pkcs11SessionsOpen.dec(this.idle.splice(0).length);
    }
    this.wakeWaiters();
  }

  takeIdle(): Handle | undefined {
    return this.current ? this.idle.pop() : undefined;
  }

  /**
   * A session done with: to the first signature waiting for one, or back to the pool, while the
   * connection is current; closed once it is retired in the same generation; forgotten when the
   * generation is gone.
   */
  giveBack(session: Handle): void {
    if (!this.current) return this.closeSession(session);
    const waiter = this.waiters.shift();
    if (waiter) waiter(session);
    else this.idle.push(session);
  }

  /** A new session, counted once opened. */
  openSession(): Promise<Handle> {
    let opening: Promise<Handle>;
    try {
      opening = this.context.module.calls.C_OpenSession(this.slot, CKF_SERIAL_SESSION);
    } catch (error) {
      opening = Promise.reject(error);
    }
    return opening.then(
      (session) => {
        this.sessions++;
        pkcs11SessionsOpened.inc();
        pkcs11SessionsOpen.inc();
        return session;
      },
      (error: unknown) => {
        throw this.context.wrap(error, 'C_OpenSession');
      },
    );
  }

  /**
   * A new session for a signature, waited for until `until` aborts (its deadline, its client gone):
   * the slot it holds is not kept by a C_OpenSession that hangs; one opened late goes to the pool
   * (see keepOpened).
   */
  async openSessionUntil(until: AbortSignal): Promise<Handle> {
    const opening = this.openSession();
    try {
      return await untilAborted(opening, until);
    } catch (error) {
      if (until.aborted) {
        void opening.then(
          (late) => this.keepOpened(late),
          () => {},
        );
      }
      throw error;
    }
  }

  /**
   * A session opened for nobody now (late, or a replacement): given back, unless the connection
   * holds more than `maxSessions` with it (counted in `sessions`, pooled or in use): its slot was
   * freed at the deadline and others opened meanwhile, and the partition's session limit is shared
   * with every worker and application, so it is closed.
   */
  keepOpened(session: Handle): void {
    if (this.current && this.sessions > this.context.maxSessions) {
      return this.closeSession(session);
    }
    this.giveBack(session);
  }

  /** Not waited for: nothing depends on it having happened. */
  closeSession(session: Handle): void {
    pkcs11SessionsOpen.dec();
    // Its last gone, a capped connection has none to give back: its waiters try to open one.
    if (--this.sessions === 0) this.wakeWaiters();
    closeUncounted(this.context.module, session, this.generation);
  }

  /**
   * The pool keeps the sessions it has for SESSION_RETRY_MS: the token refused another
   * (CKR_SESSION_COUNT). Warned once per connection, not at each refused retry or new cap.
   */
  cap(): void {
    const { id, maxSessions, now, warn } = this.context;
    this.cappedAt = now();
    if (this.capWarned) return;
    this.capWarned = true;
    const sessions = `${this.sessions} session${this.sessions === 1 ? '' : 's'}`;
    warn?.(
      `${id}: the token refused another session (CKR_SESSION_COUNT: its limit, shared by every worker and application, is reached); signatures share the ${sessions} this signer has (--pkcs11-max-sessions ${maxSessions}), asking for another at most every ${SESSION_RETRY_MS / 1000} s`,
    );
  }

  /**
   * The next session of a capped connection given back (see giveBack), or undefined at once when
   * the connection is gone or has no session left to give back (the caller tries again: it
   * reconnects, or opens one); rejects when `until` aborts.
   */
  idleSession(until: AbortSignal): Promise<Handle | undefined> {
    if (!this.current || this.sessions === 0) return Promise.resolve(undefined);
    const idle = this.takeIdle();
    if (idle) return Promise.resolve(idle);
    if (until.aborted) return Promise.reject(until.reason as Error);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
        reject(until.reason as Error);
      };
      const waiter = (session: Handle | undefined) => {
        until.removeEventListener('abort', onAbort);
        resolve(session);
      };
      this.waiters.push(waiter);
      until.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Wakes the signatures waiting for one of its sessions, with none: they try again. */
  private wakeWaiters(): void {
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }
}

/**
 * Closes a session that the metrics never counted (a connection's before it is made), unless its
 * generation is gone: its handle may name another signer's session now. A close sent before a
 * re-initialization runs before its C_Finalize (the module's calls run in order).
 */
export function closeUncounted(module: LoadedModule, session: Handle, generation: number): void {
  if (generation !== module.generation) return;
  module.calls.C_CloseSession(session).catch(() => {
    // gone with the token
  });
}

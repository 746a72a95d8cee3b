import { constants } from 'node:os';

/**
 * SIGTERM and SIGINT from the process's first moment until `serve`'s lifecycle has its own
 * handlers: the executable entry (timestamp-server.ts) holds them while the program's modules load
 * (a few hundred milliseconds). As PID 1 in a container the kernel ignores a signal without a
 * handler, so one sent then would be lost. SIGHUP (log rotation: logrotate's `kill -HUP`) is
 * ignored from then on, for the life of the process: its default action would kill a server whose
 * audit log is not open (starting, closed, none), or a cluster primary with no audit log. Imports
 * nothing but node:os: it runs before them.
 */

export type StopSignal = 'SIGTERM' | 'SIGINT';

/** The status of a process ended by `signal`'s default action, as a shell reports it (143, 130). */
export const stoppedStatus = (signal: StopSignal): number => 128 + constants.signals[signal];

/** Where the signals come from: the process (tests give an emitter). */
export type SignalSource = Pick<NodeJS.EventEmitter, 'on' | 'off'>;

interface Holding {
  source: SignalSource;
  first: StopSignal | undefined;
  handlers: Record<StopSignal, () => void>;
}

let holding: Holding | undefined;
/** The sources whose SIGHUP is ignored already. */
const hangupIgnored = new WeakSet<SignalSource>();

/** A handler that does nothing: SIGHUP never kills; the audit log adds its own to reopen. */
export function ignoreHangup(source: SignalSource = process): void {
  if (hangupIgnored.has(source)) return;
  hangupIgnored.add(source);
  source.on('SIGHUP', () => undefined);
}

/**
 * Installs handlers that remember the first SIGTERM or SIGINT (and ignore any later one), and
 * one that ignores SIGHUP, never removed.
 */
export function holdStopSignals(source: SignalSource = process): void {
  ignoreHangup(source);
  if (holding) return;
  const held: Holding = {
    source,
    first: undefined,
    handlers: {
      SIGTERM: () => (held.first ??= 'SIGTERM'),
      SIGINT: () => (held.first ??= 'SIGINT'),
    },
  };
  holding = held;
  source.on('SIGTERM', held.handlers.SIGTERM);
  source.on('SIGINT', held.handlers.SIGINT);
}

/**
 * Removes the holding handlers and returns the first signal they got, if any; undefined when none
 * hold (never installed, or taken over already). Whoever takes over installs its own handlers first:
 * a process signal with no handler left in between would take its default action.
 */
export function takeOverStopSignals(): StopSignal | undefined {
  if (!holding) return undefined;
  const { source, first, handlers } = holding;
  holding = undefined;
  source.off('SIGTERM', handlers.SIGTERM);
  source.off('SIGINT', handlers.SIGINT);
  return first;
}

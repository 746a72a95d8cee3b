import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import {
  holdStopSignals,
  stoppedStatus,
  takeOverStopSignals,
} from '../../../src/cli/held-signals.js';

describe('SIGTERM and SIGINT held until the lifecycle takes them over', () => {
  it('remembers the first signal, ignores later ones, and hands it over once', () => {
    const signals = new EventEmitter();
    holdStopSignals(signals);
    expect(signals.listenerCount('SIGTERM')).toBe(1);
    expect(signals.listenerCount('SIGINT')).toBe(1);
    signals.emit('SIGINT');
    signals.emit('SIGTERM');
    expect(takeOverStopSignals()).toBe('SIGINT');
    expect(signals.listenerCount('SIGTERM')).toBe(0);
    expect(signals.listenerCount('SIGINT')).toBe(0);
    // Taken over: nothing is held any more.
    expect(takeOverStopSignals()).toBeUndefined();
  });

  it('nothing received: nothing handed over; holding twice installs one pair', () => {
    const signals = new EventEmitter();
    holdStopSignals(signals);
    holdStopSignals(signals);
    expect(signals.listenerCount('SIGTERM')).toBe(1);
    expect(takeOverStopSignals()).toBeUndefined();
    expect(signals.listenerCount('SIGTERM')).toBe(0);
  });

  it('SIGHUP is ignored from the hold on, for good: handed over with nothing, installed once', () => {
    const signals = new EventEmitter();
    holdStopSignals(signals);
    expect(signals.listenerCount('SIGHUP')).toBe(1);
    signals.emit('SIGHUP');
    expect(takeOverStopSignals()).toBeUndefined();
    // Its default action would kill a server with no audit log open: it stays.
    expect(signals.listenerCount('SIGHUP')).toBe(1);
    holdStopSignals(signals);
    expect(signals.listenerCount('SIGHUP')).toBe(1);
    expect(takeOverStopSignals()).toBeUndefined();
  });

  it('a held signal ends a process that no lifecycle took it over with 128 + its number', () => {
    expect(stoppedStatus('SIGTERM')).toBe(143);
    expect(stoppedStatus('SIGINT')).toBe(130);
  });
});

import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { LazyChildLogger } from '../../../src/server/lazy-child-logger.js';
import { logSink } from '../../helpers/log-sink.js';

function capturedLogger(level = 'info') {
  const { sink, records } = logSink();
  return { logger: pino({ level, base: null }, sink), records };
}

describe('LazyChildLogger', () => {
  it('makes the child only when something logs through it, then logs with its bindings', () => {
    const { logger, records } = capturedLogger();
    const child = vi.spyOn(logger, 'child');
    const lazy = new LazyChildLogger(logger, { requestID: 'r-1' }, {});
    expect(lazy.level).toBe('info');
    expect(child).not.toHaveBeenCalled();
    lazy.warn({ statusCode: 500 }, 'request failed');
    lazy.info('second');
    expect(child).toHaveBeenCalledTimes(1);
    expect(records()).toMatchObject([
      { level: 40, requestID: 'r-1', statusCode: 500, msg: 'request failed' },
      { level: 30, requestID: 'r-1', msg: 'second' },
    ]);
  });

  it('keeps to the level given for the route, and its own children inherit the bindings', () => {
    const { logger, records } = capturedLogger('trace');
    const lazy = new LazyChildLogger(logger, { requestID: 'r-2' }, { level: 'warn' });
    expect(lazy.level).toBe('warn');
    lazy.info('not written');
    lazy.child({ part: 'audit' }).error('written');
    expect(records()).toMatchObject([
      { level: 50, requestID: 'r-2', part: 'audit', msg: 'written' },
    ]);
    expect(records()).toHaveLength(1);
  });
});

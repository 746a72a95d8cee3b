import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { LazyChildLogger } from '../../../src/server/lazy-child-logger.js';

function capturedLogger(level = 'info') {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level, base: null }, sink), lines };
}

describe('LazyChildLogger', () => {
  it('makes the child only when something logs through it, then logs with its bindings', () => {
    const { logger, lines } = capturedLogger();
    const child = vi.spyOn(logger, 'child');
    const lazy = new LazyChildLogger(logger, { requestID: 'r-1' }, {});
    expect(lazy.level).toBe('info');
    expect(child).not.toHaveBeenCalled();
    lazy.warn({ statusCode: 500 }, 'request failed');
    lazy.info('second');
    expect(child).toHaveBeenCalledTimes(1);
    expect(lines).toMatchObject([
      { level: 40, requestID: 'r-1', statusCode: 500, msg: 'request failed' },
      { level: 30, requestID: 'r-1', msg: 'second' },
    ]);
  });

  it('keeps to the level given for the route, and its own children inherit the bindings', () => {
    const { logger, lines } = capturedLogger('trace');
    const lazy = new LazyChildLogger(logger, { requestID: 'r-2' }, { level: 'warn' });
    expect(lazy.level).toBe('warn');
    lazy.info('not written');
    lazy.child({ part: 'audit' }).error('written');
    expect(lines).toMatchObject([{ level: 50, requestID: 'r-2', part: 'audit', msg: 'written' }]);
    expect(lines).toHaveLength(1);
  });
});

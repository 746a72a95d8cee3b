import { describe, expect, it } from 'vitest';
import {
  createLogger,
  requestLineWriter,
  type RequestLineFields,
  type RequestLineLevel,
} from '../../../src/server/logger.js';
import { logSink } from '../../helpers/log-sink.js';

/** A prod logger whose lines are captured as written. */
function capturedProdLogger(level = 'info') {
  const { sink, chunks } = logSink();
  return { logger: createLogger('prod', level, sink), lines: chunks };
}

/** The time field aside (the two lines may be a millisecond apart). */
const withoutTime = (line: string | undefined) =>
  line?.replace(/,"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"/, '');

/**
 * pino is the oracle: the writer's line must be byte for byte the line pino writes through the
 * request's child logger (as Fastify makes it, bound to requestID) for the same fields.
 */
function expectSameAsPino(
  requestId: string,
  level: RequestLineLevel,
  fields: RequestLineFields,
  message: string,
): string {
  const { logger, lines } = capturedProdLogger();
  logger.child({ requestID: requestId })[level]({ ...fields }, message);
  const write = requestLineWriter(logger);
  expect(write).toBeDefined();
  write?.(requestId, level, fields, message);
  expect(lines).toHaveLength(2);
  expect(lines[1]).toMatch(/^\{"severity":"[A-Z]+","time":"[^"]+",/);
  expect(withoutTime(lines[1])).toBe(withoutTime(lines[0]));
  return lines[1] as string;
}

const ID = '5144f7f2-9914-44e0-82cf-fc7b7a0f86bf';
const base: RequestLineFields = {
  method: 'POST',
  url: '/api/v1/timestamp',
  protocol: 'HTTP/1.1',
  remoteAddress: '192.0.2.7',
  statusCode: 200,
  responseTime: 5.75,
};

describe('the prod request line', () => {
  it('is the line pino writes for a granted token', () => {
    const line = expectSameAsPino(
      ID,
      'info',
      { ...base, responseTime: 5.750049000000217, serialNumber: '44aa9adb741f0069b6' },
      'request completed',
    );
    expect(JSON.parse(line)).toMatchObject({
      severity: 'INFO',
      requestID: ID,
      protocol: 'HTTP/1.1',
      remoteAddress: '192.0.2.7',
      serialNumber: '44aa9adb741f0069b6',
      message: 'request completed',
    });
  });

  it('is the line pino writes for refusals, failures and aborts', () => {
    const refused = { failInfo: 'badDataFormat', reason: 'malformed request' };
    expectSameAsPino(ID, 'warn', { ...base, statusCode: 400, ...refused }, 'request rejected');
    expectSameAsPino(ID, 'warn', { ...base, ...refused }, 'request rejected');
    expectSameAsPino(
      ID,
      'error',
      { ...base, statusCode: 500, failInfo: 'systemFailure', reason: 'signing failed' },
      'request failed',
    );
    expectSameAsPino(ID, 'info', { ...base, statusCode: 499, responseTime: 0 }, 'request aborted');
  });

  it('leaves the client out, as pino does, where its connection was gone before it was asked', () => {
    const line = expectSameAsPino(
      ID,
      'info',
      { ...base, protocol: 'HTTP/2.0', remoteAddress: undefined, statusCode: 499 },
      'request aborted',
    );
    expect(line).not.toContain('remoteAddress');
  });

  it('escapes what the client chose (URL, request ID) as pino does', () => {
    const hostile = [
      '/api/v1/timestamp?a="b"&c=\\d',
      '/x\u0001y\u001fz\u007f',
      '/caf\u00e9/\u00ff',
      `/${'long'.repeat(40)}"`,
      '/line\nbreak\ttab',
    ];
    for (const url of hostile) {
      const line = expectSameAsPino('id "quoted" \\ \u0002', 'warn', { ...base, url }, 'm');
      expect((JSON.parse(line) as { url: string }).url).toBe(url);
    }
  });

  it('writes a number that is not finite as null, as pino does', () => {
    expectSameAsPino(ID, 'info', { ...base, responseTime: Number.NaN }, 'request completed');
    expectSameAsPino(ID, 'info', { ...base, responseTime: Infinity }, 'request completed');
  });

  it('keeps to the logger level', () => {
    const { logger, lines } = capturedProdLogger('warn');
    const write = requestLineWriter(logger);
    write?.(ID, 'info', base, 'request completed');
    expect(lines).toEqual([]);
    write?.(ID, 'warn', base, 'request rejected');
    expect(lines).toHaveLength(1);
  });

  it('is written by the prod logger only', () => {
    expect(requestLineWriter(createLogger('dev', 'silent'))).toBeUndefined();
  });
});

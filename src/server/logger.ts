import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { pino, type DestinationStream, type Logger } from 'pino';
import {
  BatchedLogDestination,
  DROPPED_LINES_MESSAGE,
  type DroppedLinesNotice,
} from './log-destination.js';

export type LogType = 'dev' | 'prod';

/**
 * pino's isoTime (`,"time":"2026-01-02T03:04:05.678Z"`), formatted once per millisecond: a busy
 * server writes many lines within one. Date#toISOString runs once per second; each millisecond
 * adds its three digits to that second's text (~0.07 against ~0.9 µs a millisecond).
 */
export function isoTime(now: () => number = Date.now): () => string {
  let last = Number.NaN;
  let field = '';
  let second = Number.NaN;
  /** `,"time":"2026-01-02T03:04:05.`: the second's text, without its milliseconds and `Z`. */
  let secondField = '';
  return () => {
    const ms = now();
    if (ms !== last) {
      last = ms;
      // Milliseconds into the second, 0-999 also before 1970 (where % is negative).
      const milli = ((ms % 1000) + 1000) % 1000;
      if (ms - milli !== second) {
        second = ms - milli;
        secondField = `,"time":"${new Date(second).toISOString().slice(0, -4)}`;
      }
      field = `${secondField}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z"`;
    }
    return field;
  };
}

/** The fields of the one line logged per request (request-log.ts), in the order they are written. */
export interface RequestLineFields {
  method: string;
  url: string;
  /** `HTTP/1.1` or `HTTP/2.0`. */
  protocol: string;
  /**
   * The client's address (Fastify's request.ip): the peer's, or X-Forwarded-For's from a
   * --trusted-proxies peer.
   */
  remoteAddress: string | undefined;
  statusCode: number;
  responseTime: number;
  serialNumber?: string;
  failInfo?: string;
  reason?: string;
}

export type RequestLineLevel = 'info' | 'warn' | 'error';

/**
 * Writes a request's line exactly as the prod logger writes it through the request's child logger
 * (`{"severity","time","requestID",<fields>,"message"}`), but from the fixed fields rather than
 * through pino's generic serializer, which cost ~3 µs of each request under load.
 */
export type RequestLineWriter = (
  requestId: string,
  level: RequestLineLevel,
  fields: RequestLineFields,
  message: string,
) => void;

const requestLineWriters = new WeakMap<object, RequestLineWriter>();

/** The prod logger's request-line writer; undefined for any other logger (dev, a test's own). */
export function requestLineWriter(logger: object): RequestLineWriter | undefined {
  return requestLineWriters.get(logger);
}

const SEVERITY_FIELD: Record<RequestLineLevel, string> = {
  info: '{"severity":"INFO"',
  warn: '{"severity":"WARN"',
  error: '{"severity":"ERROR"',
};

/** As pino writes a number: one that is not finite as null. */
const jsonNumber = (value: number): string => (Number.isFinite(value) ? String(value) : 'null');

/**
 * A JSON string: as is between quotes when nothing in it needs escaping (a path, a UUID, a hex
 * serial number: the usual case, as pino's own fast path), else JSON.stringify's escapes.
 */
function jsonString(text: string): string {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x22 || code === 0x5c || (code >= 0xd800 && code <= 0xdfff))
      return JSON.stringify(text);
  }
  return `"${text}"`;
}

function requestLine(
  time: string,
  requestId: string,
  level: RequestLineLevel,
  fields: RequestLineFields,
  message: string,
): string {
  let line =
    `${SEVERITY_FIELD[level]}${time},"requestID":${jsonString(requestId)}` +
    `,"method":${jsonString(fields.method)},"url":${jsonString(fields.url)}` +
    `,"protocol":${jsonString(fields.protocol)}` +
    (fields.remoteAddress === undefined
      ? ''
      : `,"remoteAddress":${jsonString(fields.remoteAddress)}`) +
    `,"statusCode":${jsonNumber(fields.statusCode)},"responseTime":${jsonNumber(fields.responseTime)}`;
  if (fields.serialNumber !== undefined)
    line += `,"serialNumber":${jsonString(fields.serialNumber)}`;
  if (fields.failInfo !== undefined) line += `,"failInfo":${jsonString(fields.failInfo)}`;
  if (fields.reason !== undefined) line += `,"reason":${jsonString(fields.reason)}`;
  return `${line},"message":${jsonString(message)}}\n`;
}

/** The prod log's line where the destination dropped lines (standard output not read or failing). */
const droppedLinesNotice: DroppedLinesNotice = (count) =>
  `${JSON.stringify({
    severity: 'WARN',
    time: new Date().toISOString(),
    droppedLines: count,
    message: DROPPED_LINES_MESSAGE,
  })}\n`;

/**
 * prod: one JSON object per line with `severity` and `message` (as the Go server's zap production
 * logger, which cloud log routers read). dev: human-readable lines, pino-pretty's.
 */
export function createLogger(
  logType: LogType,
  level = 'info',
  destination?: DestinationStream,
): Logger {
  if (logType === 'prod') {
    const time = isoTime();
    const options = {
      level,
      messageKey: 'message',
      base: null,
      timestamp: time,
      formatters: { level: (label: string) => ({ severity: label.toUpperCase() }) },
    };
    // Batched for up to 20 ms and written by a writer thread (log-destination.ts): cheap per
    // line, and no line is lost when the process exits, however it exits.
    const stream = destination ?? new BatchedLogDestination(1, {}, droppedLinesNotice);
    const logger = pino(options, stream);
    requestLineWriters.set(logger, (requestId, level, fields, message) => {
      if (logger.isLevelEnabled(level))
        stream.write(requestLine(time(), requestId, level, fields, message));
    });
    return logger;
  }
  // pino's JSON lines into the same bounded, batched destination as prod (its lines survive every
  // exit; a stalled terminal or pipe drops lines past 16 MiB), formatted by pino-pretty in the
  // destination's writer thread, off the event loop. As a pino transport its queues grew without
  // bound while stdout was not read; on the event loop it cost a quarter of the throughput.
  const stream =
    destination ??
    new BatchedLogDestination(1, {}, devDroppedLinesNotice, {
      module: createRequire(import.meta.url).resolve('pino-pretty'),
      factory: 'prettyFactory',
      options: { colorize: process.stdout.isTTY, translateTime: 'SYS:standard' },
    });
  return pino({ level }, stream);
}

/** The dev log's dropped-lines line, as pino writes a warning (pino-pretty formats it). */
const devDroppedLinesNotice: DroppedLinesNotice = (count) =>
  `${JSON.stringify({
    level: 40,
    time: Date.now(),
    pid: process.pid,
    hostname: hostname(),
    droppedLines: count,
    msg: DROPPED_LINES_MESSAGE,
  })}\n`;

import { pino, type DestinationStream, type Logger } from 'pino';
import {
  BatchedLogDestination,
  DROPPED_LINES_MESSAGE,
  type DroppedLinesNotice,
} from './log-destination.js';

export type LogType = 'dev' | 'prod';

/**
 * pino's isoTime (`,"time":"2026-01-02T03:04:05.678Z"`), formatted once per millisecond: a busy
 * server writes many lines within one.
 */
export function isoTime(now: () => number = Date.now): () => string {
  let last = Number.NaN;
  let field = '';
  return () => {
    const ms = now();
    if (ms !== last) {
      last = ms;
      field = `,"time":"${new Date(ms).toISOString()}"`;
    }
    return field;
  };
}

/** The prod log's line where the destination dropped lines (nobody read standard output). */
const droppedLinesNotice: DroppedLinesNotice = (count) =>
  `${JSON.stringify({
    severity: 'WARN',
    time: new Date().toISOString(),
    droppedLines: count,
    message: DROPPED_LINES_MESSAGE,
  })}\n`;

/**
 * prod: one JSON object per line with `severity` and `message` (as the Go server's zap production
 * logger, which cloud log routers read). dev: human-readable lines through pino-pretty.
 */
export function createLogger(
  logType: LogType,
  level = 'info',
  destination?: DestinationStream,
): Logger {
  if (logType === 'prod') {
    const options = {
      level,
      messageKey: 'message',
      base: null,
      timestamp: isoTime(),
      formatters: { level: (label: string) => ({ severity: label.toUpperCase() }) },
    };
    // Batched for up to 20 ms and written by a writer thread (log-destination.ts): cheap per
    // line, and no line is lost when the process exits, however it exits.
    return pino(options, destination ?? new BatchedLogDestination(1, {}, droppedLinesNotice));
  }
  return pino({
    level,
    transport: {
      target: 'pino-pretty',
      options: { colorize: process.stdout.isTTY, translateTime: 'SYS:standard' },
    },
  });
}

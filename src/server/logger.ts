import { pino, type DestinationStream, type Logger } from 'pino';

export type LogType = 'dev' | 'prod';

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
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label: string) => ({ severity: label.toUpperCase() }) },
    };
    return destination ? pino(options, destination) : pino(options);
  }
  return pino({
    level,
    transport: {
      target: 'pino-pretty',
      options: { colorize: process.stdout.isTTY, translateTime: 'SYS:standard' },
    },
  });
}

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
    // Synchronous writes, as zap's to os.Stdout: pino's default stdout stream writes on the thread
    // pool, and process.exit (a worker that cannot start, a drained process) drops a line still
    // in flight there; its flush() does not wait for it.
    return pino(options, destination ?? pino.destination({ dest: 1, sync: true }));
  }
  return pino({
    level,
    transport: {
      target: 'pino-pretty',
      options: { colorize: process.stdout.isTTY, translateTime: 'SYS:standard' },
    },
  });
}

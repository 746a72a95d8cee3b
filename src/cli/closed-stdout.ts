import { errorLine } from './exit-status.js';

let installed = false;

/**
 * A reader that went away (`timestamp-server version | head -1`) ends the output, with the status
 * set so far, not with Node's stack trace for an unhandled 'error'; any other failure to write
 * stdout is one line on stderr and status 1. Once per process, by the commands that print.
 */
export function endQuietlyWhenStdoutCloses(): void {
  if (installed) return;
  installed = true;
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit();
    process.stderr.write(`error writing to stdout: ${errorLine(error)}\n`);
    process.exit(1);
  });
}

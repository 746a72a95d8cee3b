import { ServerError } from './server-error.js';

/** The flags that choose one listener's address, as the operator would change them. */
export interface ListenerFlags {
  host: string;
  port: string;
}

/**
 * A listener that cannot bind, said in terms of the flags that chose its address (`--metrics-port
 * 2112 is in use on 127.0.0.1`), not Node's `listen EADDRINUSE`.
 */
export function listenError(
  error: unknown,
  flags: ListenerFlags,
  host: string,
  port: number,
): ServerError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const message = (() => {
    switch (code) {
      case 'EADDRINUSE':
        return `${flags.port} ${port} is in use on ${host}: stop the process holding it or choose another ${flags.port}`;
      case 'EACCES':
        return `${flags.port} ${port} on ${host} is not allowed to this user: choose a port above 1023 or grant CAP_NET_BIND_SERVICE`;
      case 'EADDRNOTAVAIL':
        return `${flags.host} ${host} is not an address of this machine: choose one of its addresses, or 0.0.0.0`;
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return `${flags.host} ${host} does not resolve to an address`;
      default:
        return `cannot listen on ${host}:${port} (${flags.host}, ${flags.port}): ${error instanceof Error ? error.message : String(error)}`;
    }
  })();
  return new ServerError('LISTEN_FAILED', message, { cause: error });
}

/** Runs `listen`, rethrowing a bind failure as `listenError`. */
export async function listenAs<T>(
  listen: () => Promise<T>,
  flags: ListenerFlags,
  host: string,
  port: number,
): Promise<T> {
  try {
    return await listen();
  } catch (error) {
    throw listenError(error, flags, host, port);
  }
}

import type { Socket } from 'node:net';
import {
  buildConnector,
  EnvHttpProxyAgent,
  fetch as undiciFetch,
  Pool,
  type Dispatcher,
  type RequestInit,
  type Response,
} from 'undici';
import { CliError } from './output.js';

/**
 * timestamp-cli's HTTP client: undici's fetch (Node's own client, the one behind the global fetch)
 * with a dispatcher of its own, so that it
 * - honours HTTP_PROXY, HTTPS_PROXY and NO_PROXY (and their lower-case spellings) as Go's client
 *   does: an http:// URL is sent to the proxy as an absolute-form request, an https:// one is
 *   tunnelled with CONNECT; localhost, 127.0.0.1 and [::1] are never proxied (Go's rule for
 *   loopback);
 * - has no deadline but --timeout's: undici's own (300 s for the headers and between body
 *   chunks, 10 s to connect) are off, the connection's time is --timeout's, and the request's
 *   AbortSignal ends it all at --timeout (0: none).
 */

/** The proxy variables as Go reads them: the upper-case name first, an empty one unset. */
function proxyVariable(
  environment: NodeJS.ProcessEnv,
  name: string,
): { name: string; value: string } | undefined {
  for (const spelling of [name.toUpperCase(), name.toLowerCase()]) {
    const value = environment[spelling];
    if (value) return { name: spelling, value };
  }
  return undefined;
}

const parsedUrl = (text: string): URL | undefined => {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
};

/** What a proxy variable asks for: a proxy undici can use, one it cannot, or none. */
type ProxySetting = { url: string } | { refusal: CliError } | undefined;

/**
 * A proxy variable's proxy as Go's httpproxy reads it (parseProxy): a URL, or `host[:port]` taken
 * as `http://host[:port]`; a value that does not parse either way is ignored, as Go ignores it
 * (undici would refuse every request, loopback ones too). undici speaks HTTP to a proxy: a
 * `socks5://` one, which Go's client supports, is refused by name for the requests it would carry
 * (cliFetch), rather than ignored, which would send them around it.
 */
function proxySetting(environment: NodeJS.ProcessEnv, name: string): ProxySetting {
  const variable = proxyVariable(environment, name);
  if (!variable) return undefined;
  const asWritten = parsedUrl(variable.value);
  const url = asWritten?.host ? asWritten : parsedUrl(`http://${variable.value}`);
  if (!url?.host) return undefined;
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return {
      refusal: new CliError(
        'USAGE',
        `${variable.name}: a ${url.protocol.slice(0, -1)} proxy is not supported: only http:// and https:// proxies`,
      ),
    };
  }
  return { url: url === asWritten ? variable.value : url.href };
}

const proxyUrl = (setting: ProxySetting): string =>
  setting && 'url' in setting ? setting.url : '';

/** Hosts never proxied, whatever NO_PROXY says: Go's httpproxy skips localhost and loopback. */
const LOOPBACK = ['localhost', '127.0.0.1', '[::1]'];

/**
 * NO_PROXY with the loopback hosts added; `*` (an entry of it, for Go) alone, which undici
 * understands only as the whole value.
 */
function noProxyList(noProxy: string | undefined): string {
  const entries = (noProxy ?? '').split(/[,\s]+/).filter((entry) => entry !== '');
  return entries.includes('*') ? '*' : [...entries, ...LOOPBACK].join(',');
}

/**
 * Why `target` cannot be fetched: the proxy variable of its scheme names a proxy undici cannot
 * speak to. Loopback targets never go through a proxy, nor does any with NO_PROXY=*, so no proxy
 * stops them. (Another host NO_PROXY lists is refused all the same: undici's matching is its own.)
 */
export function proxyRefusal(
  target: URL,
  environment: NodeJS.ProcessEnv = process.env,
): CliError | undefined {
  if (LOOPBACK.includes(target.hostname)) return undefined;
  if (noProxyList(proxyVariable(environment, 'no_proxy')?.value) === '*') return undefined;
  const setting = proxySetting(
    environment,
    target.protocol === 'https:' ? 'https_proxy' : 'http_proxy',
  );
  return setting && 'refusal' in setting ? setting.refusal : undefined;
}

/**
 * undici's connector with `timeoutMs` (0: none), which keeps the sockets it is connecting in
 * `connecting` until they connect or fail: undici cannot end those itself (destroying a
 * dispatcher ends its requests and connections, not a connection being made), and one would keep
 * the process alive after the request it was for has been aborted.
 */
function trackingConnector(timeoutMs: number, connecting: Set<Socket>): buildConnector.connector {
  // It returns the socket, though its type says void.
  const connect = buildConnector({ timeout: timeoutMs }) as unknown as (
    options: buildConnector.Options,
    callback: buildConnector.Callback,
  ) => Socket;
  return (options, callback) => {
    const socket = connect(options, (...result) => {
      connecting.delete(socket);
      callback(...result);
    });
    connecting.add(socket);
  };
}

/**
 * The EnvHttpProxyAgent options for a --timeout of `timeoutMs` (0: none) and an environment.
 * Exported for the tests: each undici deadline is set here, for every connection it makes (to
 * the server, to a proxy, through a proxy's tunnel). The sockets being connected to the server or
 * to a CONNECT proxy are kept in `connecting`.
 */
export function dispatcherOptions(
  timeoutMs: number,
  environment: NodeJS.ProcessEnv = process.env,
  connecting = new Set<Socket>(),
): EnvHttpProxyAgent.Options {
  // No headers or body deadline (undici's default is 300 s each): --timeout's signal is the one.
  const noDeadlines = { headersTimeout: 0, bodyTimeout: 0 };
  // Connecting (and the TLS handshake) may take all of --timeout, not undici's 10 s; 0 is none.
  const timeout = { timeout: timeoutMs };
  const connect = trackingConnector(timeoutMs, connecting);
  // Every pool undici makes, those to a proxy included, gets no deadline of its own.
  const pool = (origin: URL, options: object): Dispatcher =>
    new Pool(origin, { ...options, ...noDeadlines });
  // One undici cannot speak to is left out here: cliFetch refuses what it would carry.
  const httpProxy = proxyUrl(proxySetting(environment, 'http_proxy'));
  const httpsProxy = proxyUrl(proxySetting(environment, 'https_proxy'));
  const noProxy = proxyVariable(environment, 'no_proxy')?.value;
  return {
    ...noDeadlines,
    connect,
    // The connection to a proxy that forwards http:// requests, and the TLS handshake through a
    // CONNECT tunnel, are undici's own: their timeout is set here.
    proxyTls: timeout,
    requestTls: timeout,
    factory: pool,
    // The connection to a CONNECT proxy.
    clientFactory: (origin: URL, options: object): Dispatcher =>
      new Pool(origin, { ...options, ...noDeadlines, connect }),
    // http:// through an HTTP proxy as a forwarded request, as Go sends it: CONNECT is often
    // allowed to port 443 only.
    proxyTunnel: false,
    // Always given ('' is none): undici reads the variables itself for a missing one, and would
    // then refuse every request for a value ignored here.
    httpProxy,
    httpsProxy,
    noProxy: noProxyList(noProxy),
  };
}

interface SharedDispatcher {
  timeoutMs: number;
  dispatcher: EnvHttpProxyAgent;
  connecting: Set<Socket>;
}

/** One dispatcher per process and --timeout: its connections are kept alive between requests. */
let shared: SharedDispatcher | undefined;

function dispatcherFor(timeoutMs: number): SharedDispatcher {
  if (shared?.timeoutMs !== timeoutMs) {
    const connecting = new Set<Socket>();
    shared = {
      timeoutMs,
      connecting,
      dispatcher: new EnvHttpProxyAgent(dispatcherOptions(timeoutMs, process.env, connecting)),
    };
  }
  return shared;
}

/**
 * fetch through the CLI's dispatcher, ended at `timeoutMs` (0: never), or at `leftMs` where the
 * request shares its --timeout with others (what they left of it, at least 1), or when `signal`
 * aborts (another request of its batch failed). Once a request is aborted, the dispatcher is
 * destroyed, with the connections it is still making: one would otherwise keep the process alive
 * after the command has failed.
 */
export async function cliFetch(
  url: string | URL,
  init: Omit<RequestInit, 'dispatcher' | 'signal'>,
  timeoutMs: number,
  options: { leftMs?: number; signal?: AbortSignal } = {},
): Promise<Response> {
  const refusal = proxyRefusal(new URL(url));
  if (refusal) throw refusal;
  // The dispatcher is --timeout's (its connections' deadline); the request's is what is left.
  const current = dispatcherFor(timeoutMs);
  const limitMs = options.leftMs ?? timeoutMs;
  const timeout = limitMs > 0 ? AbortSignal.timeout(limitMs) : undefined;
  const signal =
    timeout && options.signal
      ? AbortSignal.any([timeout, options.signal])
      : (timeout ?? options.signal);
  try {
    return await undiciFetch(url, {
      ...init,
      dispatcher: current.dispatcher,
      ...(signal ? { signal } : {}),
    });
  } catch (error) {
    if (signal?.aborted) abandon(current);
    throw error;
  }
}

/**
 * Ends every request and connection of the CLI's dispatcher: what a failed command left behind
 * (a request nobody awaits any more) must not keep the process alive, with --timeout 0 forever.
 */
export function abandonCliRequests(): void {
  if (shared) abandon(shared);
}

/** Destroys a dispatcher and the sockets it is connecting; the next request gets a new one. */
function abandon(abandoned: SharedDispatcher): void {
  if (shared === abandoned) shared = undefined;
  for (const socket of abandoned.connecting) socket.destroy();
  abandoned.connecting.clear();
  void abandoned.dispatcher.destroy().catch(() => undefined);
}

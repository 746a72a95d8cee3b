import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { FastifyRequest } from 'fastify';

/**
 * host[:port] (RFC 9110 section 7.2, RFC 3986 section 3.2.2): a name of letters, digits, '-', '_'
 * and '.', an IPv4 address (a name, for this purpose) or a bracketed IPv6 literal; then at most
 * five digits of port. Nothing a URI or JSON reader could take for anything else.
 */
const HOST_AND_PORT = /^(?:[A-Za-z0-9_.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::(\d{1,5}))?$/;

/** Whether `host` is host[:port] with a port of at most 65535. */
export function isHostAndPort(host: string): boolean {
  const match = HOST_AND_PORT.exec(host);
  return match !== null && (match[1] === undefined || Number(match[1]) <= 0xffff);
}

/** Whether `rawHeaders` (name, value, name...) hold more than one Host header. */
function manyHosts(rawHeaders: readonly string[]): boolean {
  let hosts = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]?.toLowerCase() === 'host' && ++hosts > 1) return true;
  }
  return false;
}

/** An authority as RFC 3986 section 6.2 compares them: lower case, without https's default port. */
const normalAuthority = (authority: string): string => authority.toLowerCase().replace(/:443$/, '');

/**
 * Whether an HTTP/2 request carries a Host header naming another authority than its :authority
 * (Fastify's request.host reads Host first): RFC 9113 section 8.3.1 says a server should treat
 * such a request as malformed. HTTP/2 is served over TLS only, so 443 is the default port.
 */
function hostBesideAuthority(headers: IncomingHttpHeaders): boolean {
  const authority = headers[':authority'];
  const { host } = headers;
  return (
    typeof authority === 'string' &&
    typeof host === 'string' &&
    normalAuthority(authority) !== normalAuthority(host)
  );
}

/**
 * Whether the request names its authority twice, differently: two Host headers, of which Node
 * keeps the first (RFC 9112 section 3.2 answers 400), or an HTTP/2 host header unlike its
 * :authority.
 */
export function ambiguousAuthority(request: FastifyRequest): boolean {
  return manyHosts(request.raw.rawHeaders) || hostBesideAuthority(request.raw.headers);
}

/**
 * Whether an HTTP/1.1 request has no Host header, which RFC 9112 section 3.2 requires (HTTP/1.0
 * may leave it out, as in Go; HTTP/2 has :authority). An empty Host is one, as in Go and Node.
 */
export function missingHost(request: IncomingMessage | Http2ServerRequest): boolean {
  return (
    request.httpVersionMajor === 1 &&
    request.httpVersionMinor >= 1 &&
    request.headers.host === undefined
  );
}

/** The authority of an absolute-form request-target (`GET http://host/path`): 1 the authority. */
const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/;

/**
 * The authority of an absolute-form request-target, which RFC 9112 section 3.2.2 says a server
 * takes in place of Host, as Go does; undefined for the usual origin form, or where a trusted
 * proxy's X-Forwarded-Host names the host (Fastify's request.host reads it in place of Host).
 */
function absoluteFormAuthority(request: FastifyRequest): string | undefined {
  const url = request.raw.url;
  if (url === undefined || url.startsWith('/')) return undefined;
  const { headers } = request.raw;
  if (request.host !== (headers.host ?? headers[':authority'] ?? '')) return undefined;
  return ABSOLUTE_FORM.exec(url)?.[1];
}

/**
 * The path and query of a request-target as the client sent it: an absolute-form one (`GET
 * http://host/path`, which RFC 9112 section 3.2.2 says a server must accept, and Fastify's router
 * routes by its path) less its scheme and authority; any other form unchanged. Nothing decoded.
 */
export function originFormTarget(url: string): string {
  if (url.startsWith('/')) return url;
  const absolute = ABSOLUTE_FORM.exec(url);
  if (!absolute) return url;
  const rest = url.slice(absolute[0].length);
  return rest.startsWith('/') ? rest : `/${rest}`;
}

/** The path of a request-target (origin or absolute form), as the router reads it: no query. */
export function targetPath(url: string): string {
  const target = originFormTarget(url);
  const query = target.indexOf('?');
  return query < 0 ? target : target.slice(0, query);
}

/**
 * The scheme://host[:port] the client reached us at, from its Host (HTTP/2: :authority; an
 * absolute-form request-target's authority; with --trusted-proxies, the proxy's X-Forwarded-Host
 * and -Proto): undefined when there is none
 * (HTTP/1.0), null when it is not host[:port]. Check ambiguousAuthority first.
 */
export function requestOrigin(request: FastifyRequest): string | undefined | null {
  const host = absoluteFormAuthority(request) ?? request.host;
  if (host === '') return undefined;
  if (!isHostAndPort(host)) return null;
  const scheme = request.protocol === 'https' ? 'https' : 'http';
  return `${scheme}://${host.toLowerCase()}`;
}

/** `existing` (a Vary header value, if any) with `names` added. */
export function addVary(existing: unknown, names: string): string {
  return typeof existing === 'string' && existing !== '' ? `${existing}, ${names}` : names;
}

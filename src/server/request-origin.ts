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
    const name = rawHeaders[i];
    // The length first: no lower-cased copy of every other name, on every request.
    if (name?.length === 4 && name.toLowerCase() === 'host' && ++hosts > 1) return true;
  }
  return false;
}

/**
 * Go's httpguts.ValidHostHeader: only octets that RFC 3986's host and port use, in any order (as
 * lenient as Go's; isHostAndPort is the strict reading, where the host is used).
 */
const VALID_HOST_OCTETS = /^[0-9A-Za-z!$%&'()*+,.:;=[\]_~-]*$/;

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
 * Whether the request names its authority twice, differently: an HTTP/2 host header unlike its
 * :authority. (Two Host headers never get this far: hostRefusal answers them 400 on every route.)
 */
export function ambiguousAuthority(request: FastifyRequest): boolean {
  return hostBesideAuthority(request.raw.headers);
}

/**
 * Why a request's Host header is refused (400), as Go's net/http refuses it, in Go's words;
 * undefined when it is not. RFC 9112 section 3.2: an HTTP/1.1 request has exactly one (HTTP/1.0
 * may leave it out, as in Go; an empty Host is one, as in Go and Node); a server answers 400 to
 * more than one or to an invalid one. Node kept the first of two, and took any octets. HTTP/2
 * streams with two or a malformed host or :authority never get here: nghttp2 resets them.
 */
export function hostRefusal(request: IncomingMessage | Http2ServerRequest): string | undefined {
  const { host } = request.headers;
  if (host === undefined) {
    const required = request.httpVersionMajor === 1 && request.httpVersionMinor >= 1;
    return required ? 'missing required Host header' : undefined;
  }
  if (manyHosts(request.rawHeaders)) return 'too many Host headers';
  return VALID_HOST_OCTETS.test(host) ? undefined : 'malformed Host header';
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

import type { ServeConfig } from '../config/schema.js';
import { secureServerOptions, type TlsMaterial } from './tls.js';

/** Which listener an app instance serves: plain HTTP (maybe ping-only) or HTTPS with HTTP/2. */
export type Transport = { kind: 'http'; pingOnly: boolean } | { kind: 'https'; tls: TlsMaterial };

/** Fastify constructor options for the transport (timeouts are set on the server once created). */
export function transportOptions(config: ServeConfig, transport: Transport | undefined): object {
  if (transport?.kind === 'https') {
    return {
      http2: true,
      https: {
        ...secureServerOptions(transport.tls, config.maxHeaderSize),
        // Go's ReadTimeout covers the TLS handshake; Node's own default is 120 s.
        handshakeTimeout: config.readTimeout > 0 ? config.readTimeout : 120_000,
      },
      http2SessionTimeout: idleTimeout(config),
    };
  }
  // A request without Host is refused by app.ts's hook, answered as any other refusal (logged,
  // counted, the JSON body): Node's own check answers a bare 400 before any event we see. The
  // HTTPS listener's HTTP/1.1 has no such check.
  return { http: { maxHeaderSize: config.maxHeaderSize, requireHostHeader: false } };
}

/**
 * How long an idle keep-alive connection (an HTTP/2 session) stays open: --cleanup-timeout, which
 * the Go server gives http.Server's IdleTimeout, where 0 means ReadTimeout's, and no limit only
 * when that is 0 too. Node's keepAliveTimeout 0 alone would mean no limit at all.
 */
export function idleTimeout(config: ServeConfig): number {
  return config.cleanupTimeout > 0 ? config.cleanupTimeout : config.readTimeout;
}

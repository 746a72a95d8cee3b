import { EventEmitter } from 'node:events';
import type { Server } from 'node:net';
import { expect, it } from 'vitest';
import {
  HANDSHAKE_REPORT_MS,
  handshakeFailure,
  reportTlsHandshakeFailures,
} from '../../../src/server/tls-handshake-failures.js';

it('reads the reason of a failed handshake from its code', () => {
  expect(handshakeFailure('ERR_TLS_HANDSHAKE_TIMEOUT')).toBe('timeout');
  expect(handshakeFailure('ERR_SSL_HTTP_REQUEST')).toBe('plain_http');
  expect(handshakeFailure('ECONNRESET')).toBe('reset');
  expect(handshakeFailure('ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE')).toBe('client_certificate');
  expect(handshakeFailure('ERR_SSL_CERTIFICATE_VERIFY_FAILED')).toBe('client_certificate');
  expect(handshakeFailure('ERR_SSL_NO_SHARED_CIPHER')).toBe('other');
  expect(handshakeFailure(undefined)).toBe('other');
});

it('logs each reason when first seen, then at most every HANDSHAKE_REPORT_MS with the count since', () => {
  const server = new EventEmitter();
  const lines: string[] = [];
  const record = (level: string) => (fields: object, message: string) =>
    lines.push(`${level} ${message} ${JSON.stringify(fields)}`);
  let now = 0;
  reportTlsHandshakeFailures(
    server as unknown as Server,
    { warn: record('WARN'), info: record('INFO') } as never,
    () => now,
  );
  const fail = (code: string) =>
    server.emit('tlsClientError', Object.assign(new Error(code), { code }), {
      remoteAddress: '192.0.2.7',
    });
  fail('ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE');
  fail('ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE');
  fail('ERR_TLS_HANDSHAKE_TIMEOUT');
  now += HANDSHAKE_REPORT_MS;
  fail('ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE');
  expect(lines).toEqual([
    'WARN TLS handshake failed: a client certificate was missing or not trusted by --tls-ca {"reason":"client_certificate","code":"ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE","remoteAddress":"192.0.2.7"}',
    'INFO TLS handshake failed: not finished within --read-timeout {"reason":"timeout","code":"ERR_TLS_HANDSHAKE_TIMEOUT","remoteAddress":"192.0.2.7"}',
    'WARN TLS handshake failed: a client certificate was missing or not trusted by --tls-ca {"reason":"client_certificate","code":"ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE","remoteAddress":"192.0.2.7","failedSinceLastReport":2}',
  ]);
});

import { X509Certificate, constants, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import type { SecureServerOptions } from 'node:http2';
import type { ServeConfig } from '../config/schema.js';
import { unopenedSecretFile } from '../config/secret-file.js';
import { holdsKeyMaterial, shownPath } from '../shown-path.js';
import { ServerError } from './server-error.js';

/** The Go server's TLS 1.2 suites (go-swagger's restapi server): ECDHE with AEAD only. */
const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  /** Client CAs; present = mutual TLS required. */
  ca?: Buffer;
}

/** Whether the configuration asks for the HTTPS listener. */
export function tlsRequested(config: ServeConfig): boolean {
  return config.tlsCertificate !== '' || config.tlsKey !== '' || config.tlsCa !== '';
}

/** `secretFlag`: the file holds a secret, and is named by that flag (see unopenedSecretFile). */
function readPem(path: string, what: string, secretFlag?: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    // Node's message quotes the path: the code only where the path is not shown.
    const named = secretFlag
      ? unopenedSecretFile(secretFlag, error)
      : holdsKeyMaterial(path)
        ? `${shownPath(path)}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`
        : `${path}: ${(error as Error).message}`;
    throw new ServerError('TLS_FILE_UNREADABLE', `cannot read ${what} ${named}`, {
      ...(holdsKeyMaterial(path) ? {} : { cause: error }),
    });
  }
}

/**
 * Reads and checks the listener's certificate, key and client CAs; fails start-up on any problem.
 * That both the certificate and the key are given is a config rule (config/rules.ts).
 */
export function loadTlsMaterial(config: ServeConfig): TlsMaterial {
  const cert = readPem(config.tlsCertificate, 'TLS certificate');
  const key = readPem(config.tlsKey, 'TLS key', 'tls-key');
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(cert);
  } catch {
    throw new ServerError(
      'INVALID_TLS_CERTIFICATE',
      `cannot parse TLS certificate ${shownPath(config.tlsCertificate)}`,
    );
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    // The message names the file only: key material must never reach a log.
    throw new ServerError(
      'INVALID_TLS_KEY',
      `cannot parse TLS key ${shownPath(config.tlsKey)} (an unencrypted PEM key is required)`,
    );
  }
  // Here, before any listener starts, rather than as OpenSSL's "key values mismatch" later.
  if (!certificate.checkPrivateKey(privateKey)) {
    const leafLater = certificatesOf(cert)
      .slice(1)
      .some((later) => later.checkPrivateKey(privateKey));
    throw new ServerError(
      'TLS_KEY_MISMATCH',
      `--tls-key ${shownPath(config.tlsKey)} is not the key of --tls-certificate ${shownPath(config.tlsCertificate)}` +
        (leafLater
          ? ': it is the key of a later certificate of the file; the leaf must come first'
          : ''),
    );
  }
  // The whole file as OpenSSL takes it (X509Certificate read its first block only): a broken
  // intermediate failed the HTTPS listener after the HTTP one served, naming no file.
  usableBy('INVALID_TLS_CERTIFICATE', `TLS certificate ${shownPath(config.tlsCertificate)}`, {
    cert,
    key,
  });
  if (!config.tlsCa) return { cert, key };
  const ca = readPem(config.tlsCa, 'TLS CA');
  try {
    new X509Certificate(ca);
  } catch {
    throw new ServerError(
      'INVALID_TLS_CA',
      `cannot parse CA certificate ${shownPath(config.tlsCa)}`,
    );
  }
  usableBy('INVALID_TLS_CA', `CA certificate ${shownPath(config.tlsCa)}`, { ca });
  return { cert, key, ca };
}

/** Each certificate of a PEM file, as far as they parse. */
function certificatesOf(pem: Buffer): X509Certificate[] {
  const blocks = pem
    .toString('latin1')
    .match(/-----BEGIN CERTIFICATE-----[^-]*-----END CERTIFICATE-----/g);
  return (blocks ?? []).flatMap((block) => {
    try {
      return [new X509Certificate(block)];
    } catch {
      return [];
    }
  });
}

/** Refuses `what` if OpenSSL cannot build a TLS context of `parts` (its reason has no secret). */
function usableBy(
  code: 'INVALID_TLS_CERTIFICATE' | 'INVALID_TLS_CA',
  what: string,
  parts: SecureContextOptions,
): void {
  try {
    createSecureContext(parts);
  } catch (error) {
    throw new ServerError(code, `cannot use ${what}: ${(error as Error).message}`);
  }
}

/** SETTINGS_MAX_CONCURRENT_STREAMS of the HTTPS listener's HTTP/2 connections, as Go's. */
export const MAX_CONCURRENT_STREAMS = 250;

/** The header fields Node's HTTP/1.1 parser takes (http.Server's maxHeadersCount). */
const HTTP1_MAX_HEADERS = 2000;
/** A request's pseudo-header fields (:method, :scheme, :authority, :path), which Node counts too. */
const PSEUDO_HEADERS = 4;
/** The fewest octets a field counts in HTTP/2's header list size: a one-octet name, no value, 32. */
const MIN_FIELD_SIZE = 33;

/**
 * The header fields an HTTP/2 request may have before Node resets its stream (ENHANCE_YOUR_CALM),
 * with no answer, log line or count: HTTP/1.1's 2000 and its pseudo-headers, and at least as many
 * as a header list within --max-header-size can hold, so that --max-header-size decides (431,
 * http2-header-limit.ts). Node's default, 128, reset a request of ~124 headers.
 */
export function maxHeaderListPairs(maxHeaderSize: number): number {
  return Math.max(HTTP1_MAX_HEADERS, Math.floor(maxHeaderSize / MIN_FIELD_SIZE)) + PSEUDO_HEADERS;
}

/** Options of the HTTPS listener: HTTP/2 with HTTP/1.1 fallback (ALPN h2, http/1.1), mTLS with a CA. */
export function secureServerOptions(
  material: TlsMaterial,
  maxHeaderSize: number,
): SecureServerOptions {
  return {
    allowHTTP1: true,
    cert: material.cert,
    key: material.key,
    minVersion: 'TLSv1.2',
    ciphers: TLS12_CIPHERS,
    // A client-initiated TLS 1.2 renegotiation costs a full handshake (a signature) each, and Go's
    // server never renegotiates: refused.
    secureOptions: constants.SSL_OP_NO_RENEGOTIATION,
    maxHeaderSize,
    maxHeaderListPairs: maxHeaderListPairs(maxHeaderSize),
    // Go's HTTP/2 server allows 250 streams at once on a connection; Node's default (2^32 - 1)
    // let one client put thousands of requests in flight on one connection.
    settings: { maxHeaderListSize: maxHeaderSize, maxConcurrentStreams: MAX_CONCURRENT_STREAMS },
    ...(material.ca ? { ca: material.ca, requestCert: true, rejectUnauthorized: true } : {}),
  } as SecureServerOptions;
}

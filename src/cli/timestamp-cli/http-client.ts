import type { Response } from 'undici';
import { parseTimestampResponse } from '../../verify/parse-response.js';
import { VerificationError } from '../../verify/errors.js';
import { versionInfo } from '../../version.js';
import { cliFetch } from './http-fetch.js';
import { CliError } from './output.js';
import { MAX_TIMESTAMP_RESPONSE_BYTES, readBodyCapped } from './read-body.js';

export const TIMESTAMP_PATH = '/api/v1/timestamp';

export function userAgent(): string {
  return `timestamp-cli/${versionInfo().gitVersion} (${process.platform}; ${process.arch})`;
}

/**
 * POSTs a DER TimeStampReq and returns the TimeStampResp bytes of a 200 or 201 answer that is not
 * a rejection. Any other answer becomes an error carrying the server's reason (JSON message or RFC 3161 statusString).
 */
export async function requestTimestamp(
  server: string,
  request: Uint8Array,
  timeoutMs: number,
): Promise<Buffer> {
  let response: Response;
  let body: Buffer;
  try {
    response = await cliFetch(
      new URL(TIMESTAMP_PATH, server),
      {
        method: 'POST',
        headers: {
          'Content-Type': 'application/timestamp-query',
          Accept: 'application/timestamp-reply',
          'User-Agent': userAgent(),
        },
        body: request,
        // Never follow a redirect (Go's client does): it could send the request to another host or
        // from https to http, and take the answer from there. Reported below with its Location.
        redirect: 'manual',
      },
      timeoutMs,
    );
    // Inside the try: a server that stalls after its headers times out here.
    body = await readBodyCapped(response, MAX_TIMESTAMP_RESPONSE_BYTES, 'error getting timestamp');
  } catch (error) {
    if (error instanceof CliError) throw error;
    const cause = (error as { cause?: { message?: string } }).cause?.message;
    throw new CliError(
      'REQUEST_FAILED',
      `error getting timestamp: ${(error as Error).message}${cause ? `: ${cause}` : ''}`,
      { cause: error },
    );
  }
  if (response.status === 200 || response.status === 201) {
    // A refused request may come with 200 and a rejection TimeStampResp (our server's default).
    const refusal = rejectionOf(body);
    if (refusal) throw new CliError('SERVER_REFUSED', `error getting timestamp: ${refusal}`);
    return body;
  }
  const location = response.headers.get('location');
  if (response.status >= 300 && response.status < 400 && location !== null) {
    throw new CliError(
      'SERVER_REFUSED',
      `error getting timestamp: HTTP ${response.status}: the server redirects to ${location}, ` +
        'and redirects are not followed (give that server as --timestamp_server)',
    );
  }
  throw new CliError(
    'SERVER_REFUSED',
    `error getting timestamp: HTTP ${response.status}: ${reasonOf(body)}`,
  );
}

/** The reason of a TimeStampResp whose status is rejection (or waiting, revocation...). */
function rejectionOf(body: Buffer): string | undefined {
  try {
    parseTimestampResponse(body);
  } catch (error) {
    if (error instanceof VerificationError && error.message.startsWith('the request is rejected'))
      return error.message;
  }
  return undefined;
}

function reasonOf(body: Buffer): string {
  try {
    const json = JSON.parse(body.toString('utf8')) as { message?: unknown };
    if (typeof json.message === 'string') return json.message;
  } catch {
    // not JSON: perhaps an RFC 3161 rejection
  }
  try {
    parseTimestampResponse(body);
  } catch (error) {
    if (error instanceof VerificationError) return error.message;
  }
  return body.toString('utf8').slice(0, 200);
}

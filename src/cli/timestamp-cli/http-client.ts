import type { Response } from 'undici';
import { parseTimestampResponse } from '../../verify/parse-response.js';
import { VerificationError } from '../../verify/errors.js';
import { versionInfo } from '../../version.js';
import {
  answerText,
  mediaTypeOf,
  QUOTED_BODY_CHARACTERS,
  QUOTED_MESSAGE_CHARACTERS,
  quoted,
} from './answer-text.js';
import { cliFetch } from './http-fetch.js';
import { CliError } from './output.js';
import { MAX_TIMESTAMP_RESPONSE_BYTES, readBodyCapped } from './read-body.js';

export const TIMESTAMP_PATH = '/api/v1/timestamp';
const TIMESTAMP_REPLY = 'application/timestamp-reply';

export function userAgent(): string {
  return `timestamp-cli/${versionInfo().gitVersion} (${process.platform}; ${process.arch})`;
}

/**
 * POSTs a DER TimeStampReq and returns the TimeStampResp bytes of a 200 or 201 answer that is not
 * a rejection. Any other answer becomes an error carrying the server's reason: an RFC 3161
 * statusString, a JSON message, or the status, Content-Type and start of an error page.
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
  const contentType = response.headers.get('content-type');
  const timestampReply = isTimestampReply(contentType, body);
  if (response.status === 200 || response.status === 201) {
    // An error page with 200 (a captive portal, a wrong URL) is not parsed as ASN.1.
    if (!timestampReply)
      throw new CliError(
        'INVALID_RESPONSE',
        `error getting timestamp: the answer is not a time-stamp response: ${answerText(response.status, contentType, body)}`,
      );
    // A refused request may come with 200 and a rejection TimeStampResp (our server's default).
    const refusal = rejectionOf(body);
    if (refusal) throw new CliError('SERVER_REFUSED', `error getting timestamp: ${refusal}`);
    return body;
  }
  const location = response.headers.get('location');
  if (response.status >= 300 && response.status < 400 && location !== null) {
    throw new CliError(
      'SERVER_REFUSED',
      `error getting timestamp: HTTP ${response.status}: the server redirects to ${quoted(location, QUOTED_BODY_CHARACTERS)}, ` +
        'and redirects are not followed (give that server as --timestamp_server)',
    );
  }
  throw new CliError(
    'SERVER_REFUSED',
    `error getting timestamp: ${refusalText(response.status, contentType, body, timestampReply)}`,
  );
}

/**
 * Why an answer other than 200 or 201 refuses the request: a TimeStampResp's status (or why it
 * does not parse), else the status, Content-Type and start of the body (answerText).
 */
function refusalText(
  status: number,
  contentType: string | null,
  body: Buffer,
  timestampReply: boolean,
): string {
  if (!timestampReply) return answerText(status, contentType, body);
  try {
    parseTimestampResponse(body);
  } catch (error) {
    if (error instanceof VerificationError)
      return `HTTP ${status}: ${quoted(error.message, QUOTED_MESSAGE_CHARACTERS)}`;
    throw error;
  }
  return `HTTP ${status}, with a granted time-stamp response`;
}

/**
 * Whether an answer is meant as a TimeStampResp: labelled application/timestamp-reply, or a DER
 * SEQUENCE (its first byte 0x30) from a server that labels it otherwise, or not at all.
 */
function isTimestampReply(contentType: string | null, body: Buffer): boolean {
  return mediaTypeOf(contentType) === TIMESTAMP_REPLY || body[0] === 0x30;
}

/** The reason of a TimeStampResp whose status is rejection (or waiting, revocation...). */
function rejectionOf(body: Buffer): string | undefined {
  try {
    parseTimestampResponse(body);
  } catch (error) {
    if (error instanceof VerificationError && error.code === 'not-granted')
      return quoted(error.message, QUOTED_MESSAGE_CHARACTERS);
  }
  return undefined;
}

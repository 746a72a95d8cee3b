import { terminalText } from '../terminal-text.js';

/** How much of a body that is not the answer asked for is quoted: enough to tell what it is. */
export const QUOTED_BODY_CHARACTERS = 200;
/** How much of a JSON error's message is quoted: the server's own words, but not a page of them. */
export const QUOTED_MESSAGE_CHARACTERS = 500;

/** `text` cut to `limit` characters (an ellipsis marks the cut), its control characters escaped. */
export function quoted(text: string, limit: number): string {
  const characters = [...text];
  const cut = characters.length > limit ? `${characters.slice(0, limit).join('')}…` : text;
  return terminalText(cut);
}

/** The media type of a Content-Type header, lower-case, without its parameters; '' if none. */
export function mediaTypeOf(contentType: string | null): string {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/** The `message` of a JSON error body (Go's and our server's {code, message}), if it is one. */
function jsonMessage(mediaType: string, body: Buffer): string | undefined {
  const text = body.toString('utf8');
  if (mediaType !== 'application/json' && !/^\s*\{/.test(text)) return undefined;
  try {
    const json = JSON.parse(text) as { message?: unknown } | null;
    return typeof json?.message === 'string' ? json.message : undefined;
  } catch {
    return undefined;
  }
}

/**
 * An HTTP answer that is not the one asked for, in words safe to print, each part bounded and with
 * its control characters escaped: the status and a JSON error's message (`HTTP 500: error
 * signing`, as Go's client words its errors), or else the status, the Content-Type when there is
 * one and the start of the body (`HTTP 502 (text/html): <html>…`). An error page is neither
 * parsed as a TimeStampResp nor printed whole.
 */
export function answerText(status: number, contentType: string | null, body: Buffer): string {
  const mediaType = mediaTypeOf(contentType);
  const message = jsonMessage(mediaType, body);
  if (message !== undefined) return `HTTP ${status}: ${quoted(message, QUOTED_MESSAGE_CHARACTERS)}`;
  const type = mediaType === '' ? '' : ` (${quoted(mediaType, 100)})`;
  const text =
    body.length === 0 ? '(empty body)' : quoted(body.toString('utf8'), QUOTED_BODY_CHARACTERS);
  return `HTTP ${status}${type}: ${text}`;
}

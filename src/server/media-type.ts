/** The media type of a Content-Type header (RFC 9110 section 8.3.1), lower-cased, parameters dropped. */
export function mediaType(contentType: string | undefined): string {
  if (!contentType) return '';
  const semicolon = contentType.indexOf(';');
  return (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
}

/**
 * A qvalue (RFC 9110 section 12.4.2): 0 to 1, at most three decimals; or, as go-openapi reads it,
 * one without its leading 0 (`.2`), which Java 8's HttpURLConnection sends in its default Accept
 * (its full wildcard has `q=.2`; Java 17's, `q=0.2`).
 */
const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?|\.\d{1,3})$/;

/**
 * Whether an Accept header admits `type` (lower-case): the q of the most specific range that
 * matches it (the type itself, then its major type's wildcard, then the full wildcard) is above
 * 0, as RFC 9110 section 12.5.1 reads, so a type refused with q=0 stays refused whatever the
 * wildcards say. An absent Accept admits everything; a range whose q does not parse is skipped
 * (as in accept-encoding.ts).
 */
export function accepts(accept: string | undefined, type: string): boolean {
  if (!accept) return true;
  const majorRange = `${type.slice(0, type.indexOf('/'))}/*`;
  let specificity = 0;
  let q = 0;
  for (const range of accept.split(',')) {
    const [value = '', ...parameters] = range.split(';').map((part) => part.trim().toLowerCase());
    const rank = value === type ? 3 : value === majorRange ? 2 : value === '*/*' ? 1 : 0;
    if (rank === 0 || rank < specificity) continue;
    const weight = qOf(parameters);
    if (weight === undefined) continue;
    // Of two ranges as specific, the more welcoming one.
    q = rank > specificity ? weight : Math.max(q, weight);
    specificity = rank;
  }
  return q > 0;
}

/** The q among a range's parameters (1 without one); undefined when it does not parse. */
function qOf(parameters: readonly string[]): number | undefined {
  let q = 1;
  for (const parameter of parameters) {
    const equals = parameter.indexOf('=');
    if (equals === -1 || parameter.slice(0, equals).trimEnd() !== 'q') continue;
    const value = parameter.slice(equals + 1).trimStart();
    if (!QVALUE.test(value)) return undefined;
    q = Number(value);
  }
  return q;
}

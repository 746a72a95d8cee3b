/** A qvalue (RFC 9110 section 12.4.2): 0 to 1, at most three decimals. */
const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;

/**
 * Whether an Accept-Encoding header (RFC 9110 section 12.5.3) admits gzip: `gzip` or `x-gzip`
 * with a q above 0, or else `*` with a q above 0. A named gzip decides over `*`, so
 * `gzip;q=0, *` refuses it. No header, or an empty one, asks for identity. Preference among the
 * accepted codings is not weighed: tlog-tiles lets a log send gzip without negotiating at all.
 * A member that does not parse (a malformed q) is skipped.
 */
export function acceptsGzip(header: string | readonly string[] | undefined): boolean {
  if (header === undefined) return false;
  const text = typeof header === 'string' ? header : header.join(',');
  let named: boolean | undefined;
  let wildcard = false;
  for (const member of text.split(',')) {
    const [name = '', ...parameters] = member.split(';').map((part) => part.trim());
    const q = weight(parameters);
    if (name === '' || q === undefined) continue;
    const coding = name.toLowerCase();
    if (coding === 'gzip' || coding === 'x-gzip') named = (named ?? false) || q > 0;
    else if (coding === '*') wildcard ||= q > 0;
  }
  return named ?? wildcard;
}

/** The q of a member's parameters (1 without one); undefined when it is malformed. */
function weight(parameters: readonly string[]): number | undefined {
  let q = 1;
  for (const parameter of parameters) {
    const equals = parameter.indexOf('=');
    if (equals === -1 || parameter.slice(0, equals).trim().toLowerCase() !== 'q') continue;
    const value = parameter.slice(equals + 1).trim();
    if (!QVALUE.test(value)) return undefined;
    q = Number(value);
  }
  return q;
}

/**
 * Why the http(s) URL in `value`, which the message names `source` (a variable, a flag), is
 * refused, or undefined; never quoting it: `http://user:password@host` would carry a password
 * (URL's error and its `input` field, which a debug log prints, quote it whole), so an address that
 * does not parse is refused naming only its source, and so are credentials (`credentials` says
 * what authenticates instead), a query and a fragment (a token pasted as `?token=`), and a scheme
 * other than http(s). In config/ so that option checks share it (the signers: checkedServiceUrl).
 */
export function serviceUrlProblem(
  value: string,
  source: string,
  options: { example: string; credentials: string },
): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `${source} is not a URL such as ${options.example} (it is not shown: it may hold credentials)`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return `${source} must be an http:// or https:// URL`;
  if (url.username || url.password)
    return `${source} must not hold credentials (user:password@); ${options.credentials}`;
  if (url.search || url.hash || value.includes('?') || value.includes('#'))
    return `${source} must not have a query or a fragment`;
  return undefined;
}

/** The media type of a Content-Type header (RFC 9110 section 8.3.1), lower-cased, parameters dropped. */
export function mediaType(contentType: string | undefined): string {
  if (!contentType) return '';
  const semicolon = contentType.indexOf(';');
  return (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
}

/** Whether an Accept header admits `type` (absent Accept admits everything). */
export function accepts(accept: string | undefined, type: string): boolean {
  if (!accept) return true;
  const [major] = type.split('/');
  return accept.split(',').some((range) => {
    const [value = '', ...parameters] = range.split(';').map((part) => part.trim().toLowerCase());
    if (parameters.some((parameter) => /^q=0(\.0*)?$/.test(parameter))) return false;
    return value === type || value === '*/*' || value === `${major}/*`;
  });
}

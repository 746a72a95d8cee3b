/**
 * Go's path.Clean, which go-openapi's router applies to a request's path before it looks up the
 * route: `/api/v1/timestamp/`, `//api/v1/timestamp` and `/api/v1/./timestamp` all reach the
 * timestamp route there. Repeated slashes become one, `.` elements go, a `..` takes the element
 * before it (none above the root), and no trailing slash is left. `path` starts with `/`.
 */
export function cleanPath(path: string): string {
  const kept: string[] = [];
  for (const element of path.split('/')) {
    if (element === '' || element === '.') continue;
    if (element === '..') kept.pop();
    else kept.push(element);
  }
  return `/${kept.join('/')}`;
}

/**
 * Whether cleanPath could change `path`: a cheap test that each request pays, where cleaning
 * (a split and a join) is paid by the few paths that need it.
 */
export function mayNeedCleaning(path: string): boolean {
  return (
    path.includes('//') ||
    path.includes('/.') ||
    (path.length > 1 && path.charCodeAt(path.length - 1) === 0x2f)
  );
}

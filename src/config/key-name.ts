/** What an option name, or a typo of one, looks like: lower-case words joined by - or _. */
const OPTION_LIKE = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/**
 * An unknown config file key as an error shows it: quoted where it looks like an option name (a
 * typo to fix), else not at all, as it may be a value pasted where a key goes (a password whose
 * key was lost) or a key too long to be one.
 */
export function shownKey(key: string): string {
  return OPTION_LIKE.test(key) ? `"${key}"` : '(not shown: not an option name)';
}

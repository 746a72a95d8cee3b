const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000 };

/** Parses a Go-style duration such as `5s`, `1500ms` or `1m30s` into milliseconds. */
export function parseDuration(text: string, flag: string): number {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m)/g)];
  if (parts.length === 0 || parts.map((part) => part[0]).join('') !== text) {
    throw new Error(`invalid duration for --${flag}: ${JSON.stringify(text)} (e.g. 5s, 500ms)`);
  }
  const ms = parts.reduce(
    (total, [, value, unit]) => total + Number(value) * (UNITS[unit ?? ''] ?? 0),
    0,
  );
  if (ms <= 0) throw new Error(`--${flag} must be positive`);
  return ms;
}

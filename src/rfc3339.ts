/**
 * RFC 3339 date-time (section 5.6): `T` (or, as its note allows, a space) between date and time,
 * `T` and `Z` in either case, and an offset required, so that no time is read in the host's zone.
 */
const RFC_3339 =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:Z|[+-](\d{2}):(\d{2}))$/i;

/**
 * The instant of an RFC 3339 time, or undefined. Date's own parser takes "2026" or "12" (as
 * 2001-12-01), a time without an offset as local time, and rolls 2026-02-30 over to March.
 */
export function parseRfc3339(text: string): Date | undefined {
  const fields = RFC_3339.exec(text)
    ?.slice(1)
    .map((field = '0') => Number(field));
  if (!fields) return undefined;
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, offsetH = 0, offsetM = 0] =
    fields;
  // Day 0 of the next month is the last of this one (setUTCFullYear: years below 100 as written).
  const lastDay = new Date(0);
  lastDay.setUTCFullYear(year, month, 0);
  if (month < 1 || month > 12 || day < 1 || day > lastDay.getUTCDate()) return undefined;
  if (hour > 23 || minute > 59 || second > 59 || offsetH > 23 || offsetM > 59) return undefined;
  const date = new Date(`${text.slice(0, 10)}T${text.slice(11)}`.toUpperCase());
  return Number.isNaN(date.getTime()) ? undefined : date;
}

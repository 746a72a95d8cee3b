import { CodedError } from '../errors.js';

/** Go's time.ParseDuration units, in milliseconds. */
const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3, // U+00B5 MICRO SIGN
  μs: 1e-3, // U+03BC GREEK SMALL LETTER MU: Go's unitMap has both
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

export const DURATION_UNITS = 'ns, us, µs, ms, s, m, h';

/** A malformed duration; `reason` says what is wrong without repeating the text. */
export class DurationError extends CodedError<'INVALID_DURATION'> {
  override name = 'DurationError';
  constructor(
    readonly text: string,
    readonly reason: string,
  ) {
    super('INVALID_DURATION', `invalid duration ${JSON.stringify(text)}: ${reason}`);
  }
}

/**
 * Parses a Go duration ("30s", "1m30s", "620s", "1.5h", "500us", "0") into milliseconds, fractions
 * kept; the one parser of the server's options and the CLI's. A leading '+' is read as Go reads
 * it; '-' is refused: no option takes a negative duration. Throws a DurationError that says what is wrong, e.g. `invalid duration "30":
 * missing unit (one of ns, us, µs, ms, s, m, h)`.
 */
export function parseDuration(written: string): number {
  const invalid = (reason: string) => new DurationError(written, reason);
  const text = written.startsWith('+') ? written.slice(1) : written;
  if (text === '0') return 0;
  if (text === '') throw invalid('empty');
  if (text.startsWith('-')) throw invalid('negative: no option takes a negative duration');
  const pattern = /(\d+(?:\.\d*)?|\.\d+)([^\d.]*)/y;
  let total = 0;
  while (pattern.lastIndex < text.length) {
    const match = pattern.exec(text);
    if (!match) {
      throw invalid(`expected a number at ${JSON.stringify(text.slice(pattern.lastIndex))}`);
    }
    const [, amount = '', unit = ''] = match;
    const scale = UNIT_MS[unit];
    if (scale === undefined) {
      throw invalid(
        unit === ''
          ? `missing unit (one of ${DURATION_UNITS})`
          : `unknown unit ${JSON.stringify(unit)} (one of ${DURATION_UNITS})`,
      );
    }
    total += Number(amount) * scale;
  }
  if (!Number.isFinite(total)) throw invalid('too long');
  return total;
}

/** Milliseconds as the shortest Go duration string: 620000 -> "620s", 90000 -> "90s", 1500 -> "1500ms". */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  return ms % 1_000 === 0 ? `${ms / 1_000}s` : `${ms}ms`;
}

/** go-units' decimal multipliers (FromHumanSize): 'k' is 1000 whether or not an 'i' follows. */
const SIZE_MULTIPLIERS: Record<string, number> = {
  '': 1,
  k: 1e3,
  m: 1e6,
  g: 1e9,
  t: 1e12,
  p: 1e15,
};

export const BYTE_SIZE_FORMS =
  'bytes, or a number and a unit: 16384, 64k, 1MB, 1.5MB (decimal: 1KiB is 1000)';

/**
 * Parses a byte size as go-swagger's ByteSize flag does (docker/go-units FromHumanSize): a decimal
 * number, an optional space, an optional k, m, g, t or p, an optional i and b, without case; SI
 * multipliers always (Go reads "64KiB" as 64000), the bytes truncated to a whole number.
 */
export function parseByteSize(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?) ?([kmgtp]?)i?b?$/i.exec(text);
  if (!match) return undefined;
  const multiplier = SIZE_MULTIPLIERS[(match[2] as string).toLowerCase()] as number;
  const bytes = Math.trunc(Number(match[1]) * multiplier);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

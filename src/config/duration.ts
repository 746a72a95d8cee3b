import { CodedError } from '../errors.js';

/** Go's time.ParseDuration units, in milliseconds. */
const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
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
 * kept; the one parser of the server's options and the CLI's. Signs are refused: no option takes a
 * negative duration. Throws a DurationError that says what is wrong, e.g. `invalid duration "30":
 * missing unit (one of ns, us, µs, ms, s, m, h)`.
 */
export function parseDuration(text: string): number {
  if (text === '0') return 0;
  const invalid = (reason: string) => new DurationError(text, reason);
  if (text === '') throw invalid('empty');
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

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/** Parses a byte size as go-swagger's ByteSize flag accepts it ("1000000", "1MB", "64KiB"). */
export function parseByteSize(text: string): number | undefined {
  const match = /^(\d+)\s*([a-z]*)$/i.exec(text.trim());
  const unit = SIZE_UNITS[(match?.[2] ?? '').toLowerCase()];
  if (!match || unit === undefined) return undefined;
  const bytes = Number(match[1]) * unit;
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

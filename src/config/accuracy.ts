import { ConfigError } from './config-error.js';
import { DurationError, parseDuration } from './duration.js';

/** Longest declared accuracy: a token claiming more says nothing a verifier could use. */
const MAX_ACCURACY_MS = 60_000;
/**
 * Shortest: a millisecond genTime is itself up to 1 ms behind the clock (tsp/gen-time.ts), so 1 ms
 * would leave the clock no room at all (the clock gate's threshold is the accuracy less that).
 */
const MIN_ACCURACY_MS = 2;

/**
 * --accuracy: 'auto' (tokens declare the bound each clock check measured) or a duration of at
 * least 2 ms (RFC 3161 Accuracy has millisecond and microsecond fields; we declare whole ms).
 */
export function parseAccuracy(text: string): number | 'auto' {
  if (text.trim().toLowerCase() === 'auto') return 'auto';
  let ms: number;
  try {
    ms = parseDuration(text.trim());
  } catch (error) {
    if (!(error instanceof DurationError)) throw error;
    throw new ConfigError(
      'INVALID_VALUE',
      `invalid value for --accuracy: ${JSON.stringify(text)} (${error.reason})`,
    );
  }
  if (!(ms >= MIN_ACCURACY_MS && ms <= MAX_ACCURACY_MS)) {
    throw new ConfigError(
      'INVALID_VALUE',
      `invalid value for --accuracy: ${JSON.stringify(text)} (auto, or ${MIN_ACCURACY_MS}ms to ${MAX_ACCURACY_MS / 1000}s)`,
    );
  }
  return Math.ceil(ms);
}

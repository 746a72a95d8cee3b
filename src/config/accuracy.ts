import { ConfigError } from './config-error.js';
import { DurationError, parseDuration } from './duration.js';

/** Longest declared accuracy: a token claiming more says nothing a verifier could use. */
const MAX_ACCURACY_MS = 60_000;

/**
 * --accuracy: 'auto' (tokens declare the bound each clock check measured) or a duration of at
 * least 1 ms (RFC 3161 Accuracy has millisecond and microsecond fields; we declare whole ms).
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
  if (!(ms >= 1 && ms <= MAX_ACCURACY_MS)) {
    throw new ConfigError(
      'INVALID_VALUE',
      `invalid value for --accuracy: ${JSON.stringify(text)} (auto, or 1ms to ${MAX_ACCURACY_MS / 1000}s)`,
    );
  }
  return Math.ceil(ms);
}

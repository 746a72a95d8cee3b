import { availableParallelism } from 'node:os';
import { ConfigError } from './config-error.js';

/** --workers: a positive number, or `auto` for one process per core the OS lets us use. */
export function parseWorkerCount(value: string): number {
  if (value.trim().toLowerCase() === 'auto') return availableParallelism();
  const count = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(count) || count < 1) {
    throw new ConfigError(
      'INVALID_VALUE',
      `invalid value for --workers: ${JSON.stringify(value)} (a number of at least 1, or auto)`,
    );
  }
  return count;
}

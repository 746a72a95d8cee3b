import { existsSync } from 'node:fs';
import { InvalidArgumentError, Option } from 'commander';
import { parseDuration } from '../../config/duration.js';
import { GO_BOOLEAN_SPELLINGS, parseGoBool } from '../../config/go-bool.js';
import { envName } from './cli-config.js';

/** An option whose value may also come from its TIMESTAMP_* environment variable. */
export function option(flags: string, description: string): Option {
  const option = new Option(flags, description);
  const long = option.long?.replace(/^--/, '');
  if (long) option.env(envName(long));
  return option;
}

/**
 * Another spelling of `of` (--timestamp-server for Go's --timestamp_server) that stores into the
 * same value: commander then ranks a flag, the environment and the config file the same whichever
 * spelling each used, and of two spellings on one command line the last wins, as for one flag.
 */
class AliasOption extends Option {
  constructor(
    flags: string,
    private readonly of: Option,
  ) {
    super(flags, `alias of ${of.long ?? of.name()}`);
    if (of.parseArg) this.argParser(of.parseArg);
    this.hideHelp();
  }

  override attributeName(): string {
    return this.of.attributeName();
  }
}

export function aliasOption(flags: string, of: Option): Option {
  return new AliasOption(flags, of);
}

/** A Go-style boolean flag: `--flag`, `--flag=true`, `--flag=false`. */
export function booleanOption(flag: string, description: string, defaultValue: boolean): Option {
  return option(`--${flag} [bool]`, description).default(defaultValue).argParser(parseBoolean);
}

/** Go's strconv.ParseBool spellings (pflag's), `--flag` alone being true. */
export function parseBoolean(value: string | boolean | undefined): boolean {
  if (value === undefined || typeof value === 'boolean') return value ?? true;
  const parsed = parseGoBool(value);
  if (parsed === undefined)
    throw new InvalidArgumentError(`"${value}" is not a boolean (${GO_BOOLEAN_SPELLINGS})`);
  return parsed;
}

/** Go: required,url,startswith=http|startswith=https. */
export function parseHttpUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError(`"${value}" is not a valid url`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidArgumentError(`"${value}" must start with http or https`);
  }
  return url;
}

/** The TSA's URL as Go takes it: its scheme, host and port; a path is dropped. */
export const parseServerUrl = (value: string): string => parseHttpUrl(value).origin;

export function parseTimeout(value: string): number {
  try {
    return parseDuration(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/**
 * The longest --timeout: Node's timers hold a signed 32-bit count of milliseconds, and
 * AbortSignal.timeout fires at once past it (or throws, past 2^32 - 1).
 */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * --timeout: a Go duration of at most MAX_TIMEOUT_MS (0: none), in whole milliseconds (rounded
 * up: AbortSignal.timeout takes an integer, and 1us must not become no timeout).
 */
export function parseRequestTimeout(value: string): number {
  const ms = Math.ceil(parseTimeout(value));
  if (ms > MAX_TIMEOUT_MS)
    throw new InvalidArgumentError(
      `"${value}" is longer than ${formatGoDuration(MAX_TIMEOUT_MS)} (${MAX_TIMEOUT_MS} ms), the longest timeout (0 for none)`,
    );
  return ms;
}

/** Whole milliseconds as a Go duration: 2147483647 -> "596h31m23.647s". */
function formatGoDuration(ms: number): string {
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const seconds = (ms % 60_000) / 1000;
  return `${hours}h${minutes}m${seconds}s`;
}

export function parseExistingFile(value: string): string {
  if (!existsSync(value)) throw new InvalidArgumentError(`file ${value} does not exist`);
  return value;
}

/**
 * A dotted OID of at least two numeric arcs, the second at most 39 under 0 and 1 (X.660: DER
 * encodes the first two arcs in one number, 40 × first + second).
 */
export function parseOid(value: string): string {
  const arcs = /^([0-2])\.(0|[1-9]\d*)(\.(0|[1-9]\d*))*$/.exec(value);
  if (!arcs || (arcs[1] !== '2' && Number(arcs[2]) > 39))
    throw new InvalidArgumentError(`"${value}" is not a valid OID`);
  return value;
}

export function parseDecimalBigInt(value: string): bigint {
  if (!/^-?\d+$/.test(value)) throw new InvalidArgumentError(`"${value}" is not a decimal integer`);
  return BigInt(value);
}

/** A parser of a whole number from `min` to `max`, in decimal digits (not 1e3, 0x10, 2.0 or +2). */
export function parseIntegerIn(min: number, max: number): (value: string) => number {
  return (value) => {
    const number = /^\d{1,15}$/.test(value) ? Number(value) : NaN;
    if (!(number >= min && number <= max))
      throw new InvalidArgumentError(`"${value}" is not a whole number from ${min} to ${max}`);
    return number;
  };
}

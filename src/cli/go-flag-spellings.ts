import type { Command } from 'commander';

/** What the command line normaliser must know of the flags the commands define. */
export interface FlagSpellings {
  /** Every long flag name, without dashes. */
  known: ReadonlySet<string>;
  /** Flags whose value is the next argument when not given as --flag=value. */
  valued: ReadonlySet<string>;
  /** Flags of Go booleans: --flag alone means true and never takes the next argument. */
  booleans: ReadonlySet<string>;
  /** Other names of a flag (Go's --listen-limit for --max-connections). */
  aliases: ReadonlyMap<string, string>;
}

/** The spellings of every option of these commands (commander's `help` included). */
export function flagSpellings(
  commands: readonly Command[],
  aliases: ReadonlyMap<string, string>,
): FlagSpellings {
  const known = new Set(['help']);
  const valued = new Set<string>();
  const booleans = new Set<string>();
  for (const command of commands) {
    for (const option of command.options) {
      const name = option.long?.replace(/^--/, '');
      if (!name) continue;
      known.add(name);
      if (option.required) valued.add(name);
      if (option.optional) booleans.add(name);
    }
  }
  return { known, valued, booleans, aliases };
}

/** A boolean flag given alone, as typed (`--use_http_201`, `--use-http-201`), not `--flag=value`. */
export function isBooleanFlagAlone(token: string, spellings: FlagSpellings): boolean {
  if (!token.startsWith('--') || token.includes('=')) return false;
  const dashed = token.slice(2).replaceAll('_', '-');
  return spellings.booleans.has(spellings.aliases.get(dashed) ?? dashed);
}

/**
 * Rewrites the Go server's flag spellings into this CLI's before commander parses them:
 * - `--log_type=prod` (pflag users often write underscores; sigstore's Helm chart does) is
 *   `--log-type=prod`;
 * - an alias (`--listen-limit`) is its option (`--max-connections`);
 * - a boolean given alone (`--disable-ntp-monitoring serve`) is `=true`, as in pflag, so it never
 *   swallows the next argument;
 * - an unknown `--flag=value` loses its value, so the "unknown option" error never echoes it (a
 *   mistyped `--file-signer-pasword=...` holds a password); so does any `-flag=value` (Go's
 *   single-dash spelling, which pflag and this CLI read as short options).
 * Values (the argument after a valued flag, or after `=`) and everything after `--` are untouched.
 */
export function normalizeFlags(args: readonly string[], spellings: FlagSpellings): string[] {
  const out: string[] = [];
  for (let index = 0; index < args.length; index++) {
    const arg = args[index] ?? '';
    if (arg === '--') {
      out.push(...args.slice(index));
      break;
    }
    if (!arg.startsWith('--')) {
      // No option has a short name but -h, and none takes `-x=value`: a Go-style single-dash
      // `-file-signer-passwd=...` is an unknown option, whose error would echo it whole.
      const equals = arg.indexOf('=');
      out.push(arg.startsWith('-') && equals > 1 ? arg.slice(0, equals) : arg);
      continue;
    }
    const equals = arg.indexOf('=');
    const written = arg.slice(2, equals === -1 ? undefined : equals);
    const value = equals === -1 ? undefined : arg.slice(equals + 1);
    const dashed = written.replaceAll('_', '-');
    const name = spellings.aliases.get(dashed) ?? dashed;
    if (!spellings.known.has(name)) {
      out.push(`--${written}`);
      continue;
    }
    if (value !== undefined) out.push(`--${name}=${value}`);
    else if (spellings.booleans.has(name)) out.push(`--${name}=true`);
    else {
      out.push(`--${name}`);
      if (spellings.valued.has(name) && index + 1 < args.length) out.push(args[++index] ?? '');
    }
  }
  return out;
}

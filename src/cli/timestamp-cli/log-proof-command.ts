import { Command } from 'commander';
import { parseTlogProof, TlogError } from '../../tlog/index.js';
import { MAX_TIMEOUT_MS, option } from './arguments.js';
import { getLogResource, LOG_PATH, parseLogUrl, parseSerialHex } from './log-client.js';
import { CliError, type Output } from './output.js';
import { TimeBudget } from './time-budget.js';
import {
  checkOutputFile,
  PUBLIC_FILE_MODE,
  summaryStream,
  writeOutputFile,
} from './write-output.js';
import type { GlobalOptions } from './timestamp-command.js';

interface LogProofOptions {
  serial: string;
  out: string;
  url?: string;
  wait?: boolean;
}

/** Waits `ms` milliseconds. */
type Sleep = (ms: number) => Promise<void>;

/**
 * `clock`: the monotonic clock --timeout is measured on; `sleep`: how --wait waits (the tests give
 * their own of both).
 */
export function logProofCommand(
  globals: () => GlobalOptions,
  output: Output,
  clock: () => number = () => performance.now(),
  sleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
): Command {
  return new Command('log-proof')
    .description(
      "Fetch the transparency-log proof (C2SP tlog-proof) of the token with a serial number from the TSA's log",
    )
    .addOption(
      option(
        '--serial <hex>',
        'serial number of the token in hexadecimal, as `openssl ts -reply -text` prints it (any case, 0x optional)',
      )
        .argParser(parseSerialHex)
        .makeOptionMandatory(),
    )
    .addOption(option('--out <file>', 'where to write the proof').makeOptionMandatory())
    .addOption(
      option('--url <url>', 'base URL of the TSA (default: --timestamp_server)').argParser(
        parseLogUrl,
      ),
    )
    .addOption(
      option(
        '--wait',
        'while the token is not in a signed checkpoint yet, wait as the server asks (Retry-After) and ask again, within --timeout',
      ),
    )
    .action(async (options: LogProofOptions) => {
      await fetchLogProof(options, globals(), output, clock, sleep);
    });
}

async function fetchLogProof(
  options: LogProofOptions,
  globals: GlobalOptions,
  output: Output,
  clock: () => number,
  sleep: Sleep,
): Promise<void> {
  const base = options.url ?? parseLogUrl(globals.timestampServer);
  await checkOutputFile(options.out);
  // One --timeout for the command: the proof's GET, its retry and the key probe below each get
  // what the others left of it.
  const budget = new TimeBudget(globals.timeout, clock);
  // Waits only where the wait ends within --timeout: past it, the server's "not yet" is the answer.
  const waitNotYet = async (retryAfterMs: number): Promise<boolean> => {
    const leftMs = budget.leftMs();
    // A timer holds at most MAX_TIMEOUT_MS (longer fires at once): a longer wait is not made.
    if (retryAfterMs > MAX_TIMEOUT_MS || (leftMs !== undefined && retryAfterMs >= leftMs))
      return false;
    await sleep(retryAfterMs);
    return true;
  };
  const body = await getLogResource(base, `proof?serial=${options.serial}`, globals.timeout, {
    missingOk: true,
    budget,
    ...(options.wait ? { waitNotYet } : {}),
  });
  if (body === undefined) {
    const noSuchSerial = `the log has no token with serial number 0x${options.serial}`;
    const hasLog = await logKeyServed(base, globals.timeout, budget);
    throw new CliError(
      'SERVER_REFUSED',
      hasLog === true
        ? noSuchSerial
        : hasLog === false
          ? `${base} has no transparency log (GET ${LOG_PATH}key: 404; a TSA publishes one with --ledger-url and --ledger-key)`
          : `${noSuchSerial}, or ${base} has no transparency log (could not tell which: ${hasLog.unknown})`,
    );
  }
  const text = body.toString('utf8');
  let index: number;
  try {
    index = parseTlogProof(text).index;
  } catch (error) {
    if (error instanceof TlogError)
      throw new CliError('INVALID_RESPONSE', `the server's proof is malformed: ${error.message}`);
    throw error;
  }
  await writeOutputFile(options.out, text, PUBLIC_FILE_MODE);
  // With --out /dev/stdout the proof is the output: the summary goes to stderr.
  const summary = summaryStream(output, options.out);
  if (globals.format === 'json')
    summary(
      `${JSON.stringify({ Serial: `0x${options.serial}`, LogIndex: index, ProofPath: options.out })}\n`,
    );
  else
    summary(`Log proof of serial 0x${options.serial} (index ${index}) saved to ${options.out}\n`);
}

/**
 * Whether the server has a log: one without answers 404 for every log route, one with a log always
 * serves its key. Unknown (with why) when asking fails or the command's --timeout (`budget`) runs
 * out: the answer only refines a 404, never replaces it.
 */
async function logKeyServed(
  base: string,
  timeoutMs: number,
  budget: TimeBudget,
): Promise<boolean | { unknown: string }> {
  if (budget.leftMs() === 0) return { unknown: `--timeout ran out before GET ${LOG_PATH}key` };
  try {
    return (
      (await getLogResource(base, 'key', timeoutMs, { missingOk: true, budget })) !== undefined
    );
  } catch (error) {
    if (error instanceof CliError) return { unknown: error.message };
    throw error;
  }
}

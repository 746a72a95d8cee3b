import { Command } from 'commander';
import { parseTlogProof, TlogError } from '../../tlog/index.js';
import { option } from './arguments.js';
import { getLogResource, LOG_PATH, parseLogUrl, parseSerialHex } from './log-client.js';
import { CliError, type Output } from './output.js';
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
}

export function logProofCommand(globals: () => GlobalOptions, output: Output): Command {
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
    .action(async (options: LogProofOptions) => {
      await fetchLogProof(options, globals(), output);
    });
}

async function fetchLogProof(
  options: LogProofOptions,
  globals: GlobalOptions,
  output: Output,
): Promise<void> {
  const base = options.url ?? parseLogUrl(globals.timestampServer);
  await checkOutputFile(options.out);
  // One --timeout for the command: the key probe below gets what the proof's GET left of it.
  const deadline = globals.timeout > 0 ? performance.now() + globals.timeout : undefined;
  const body = await getLogResource(base, `proof?serial=${options.serial}`, globals.timeout, {
    missingOk: true,
  });
  if (body === undefined) {
    const noSuchSerial = `the log has no token with serial number 0x${options.serial}`;
    const hasLog = await logKeyServed(base, deadline);
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
 * serves its key. Unknown (with why) when asking fails or the `deadline` (performance.now(); none
 * if undefined) passes: the answer only refines a 404, never replaces it.
 */
async function logKeyServed(
  base: string,
  deadline: number | undefined,
): Promise<boolean | { unknown: string }> {
  let timeoutMs = 0;
  if (deadline !== undefined) {
    timeoutMs = Math.ceil(deadline - performance.now());
    if (timeoutMs <= 0) return { unknown: `--timeout ran out before GET ${LOG_PATH}key` };
  }
  try {
    return (await getLogResource(base, 'key', timeoutMs, { missingOk: true })) !== undefined;
  } catch (error) {
    if (error instanceof CliError) return { unknown: error.message };
    throw error;
  }
}

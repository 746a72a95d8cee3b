import { createHash } from 'node:crypto';
import { Command, InvalidArgumentError } from 'commander';
import { parseHashName, type HashName } from '../../asn1/algorithms.js';
import { verifySignerInfo } from '../../verify/index.js';
import { VerificationError } from '../../verify/errors.js';
import { parseTimestampResponse } from '../../verify/parse-response.js';
import { rfc3339 } from '../../verify/timestamp-json.js';
import { booleanOption, option, parseExistingFile, parseOid } from './arguments.js';
import { requestTimestamp } from './http-client.js';
import { CliError, goTimeString, type Output } from './output.js';
import { readArtifact } from './read-artifact.js';
import { encodeTimeStampReq, randomNonce } from './timestamp-request.js';
import {
  checkOutputFile,
  isDevicePath,
  sameFile,
  summaryStream,
  writeOutputFile,
} from './write-output.js';

export interface GlobalOptions {
  timestampServer: string;
  format: 'default' | 'json';
  timeout: number;
}

/** Where `timestamp` writes the response without --out, or with an empty one. */
const DEFAULT_OUT = 'response.tsr';

interface TimestampOptions {
  artifact: string;
  hash: HashName;
  nonce: boolean;
  certificate: boolean;
  tsaPolicy?: string;
  out: string;
}

function parseHash(value: string): HashName {
  try {
    return parseHashName(value);
  } catch {
    throw new InvalidArgumentError(
      'invalid hash algorithm - must be either sha256, sha384, or sha512',
    );
  }
}

export function timestampCommand(globals: () => GlobalOptions, output: Output): Command {
  return new Command('timestamp')
    .description('Signed timestamp command')
    .addOption(
      option('--artifact <file>', 'path to an artifact to timestamp')
        .argParser(parseExistingFile)
        .makeOptionMandatory(),
    )
    .addOption(
      option('--hash <alg>', 'hash algorithm to use: sha256, sha384 or sha512')
        .default('sha256')
        .argParser(parseHash),
    )
    .addOption(booleanOption('nonce', 'specify a pseudo-random nonce in the request', true))
    .addOption(
      booleanOption(
        'certificate',
        'whether or not to include a certificate chain in the response',
        true,
      ),
    )
    .addOption(
      option(
        '--tsa-policy <oid>',
        'optional dotted OID notation for the policy that the TSA should use',
      ).argParser(parseOid),
    )
    .addOption(option('--out <file>', 'path to a file to write response').default(DEFAULT_OUT))
    .action(async (options: TimestampOptions) => {
      await timestamp(options, globals(), output);
    });
}

async function timestamp(
  options: TimestampOptions,
  globals: GlobalOptions,
  output: Output,
): Promise<void> {
  // An empty --out (flag or config file) is the default, as Go's command falls back to it.
  const out = options.out === '' ? DEFAULT_OUT : options.out;
  // Before the TSA issues (and may log) a token that could not be kept.
  await checkOutputFile(out);
  if (!isDevicePath(out) && sameFile(out, options.artifact))
    throw new CliError(
      'USAGE',
      `--out ${out} is the --artifact file: writing the response there would destroy what it timestamps`,
    );
  output.stderr('Generating a new signed timestamp\n');
  const hasher = createHash(options.hash);
  for await (const chunk of readArtifact(options.artifact)) hasher.update(chunk);
  const digest = hasher.digest();
  const nonce = options.nonce ? randomNonce() : undefined;
  const request = encodeTimeStampReq({
    hash: options.hash,
    digest,
    certReq: options.certificate,
    ...(nonce !== undefined ? { nonce } : {}),
    ...(options.tsaPolicy !== undefined ? { policy: options.tsaPolicy } : {}),
  });
  const response = await requestTimestamp(globals.timestampServer, request, globals.timeout);

  // Check the answer is for this request before keeping it.
  let genTime: Date;
  try {
    const token = parseTimestampResponse(response);
    const { timestamp: ts } = token;
    if (ts.hashAlgorithm !== options.hash || !ts.hashedMessage.equals(digest)) {
      throw new VerificationError(
        'hash-mismatch',
        "the response's message imprint does not match the artifact",
      );
    }
    if (nonce !== undefined && ts.nonce !== nonce) {
      throw new VerificationError(
        'nonce',
        `the response's nonce ${ts.nonce ?? '(none)'} does not match the request's ${nonce}`,
      );
    }
    if (options.tsaPolicy !== undefined && ts.policy !== options.tsaPolicy) {
      throw new VerificationError(
        'policy',
        `the response's policy ${ts.policy} is not the requested ${options.tsaPolicy}`,
      );
    }
    if (ts.certificates.length > 0) verifySignerInfo(token, ts.certificates);
    genTime = ts.genTime;
  } catch (error) {
    if (error instanceof VerificationError) throw answerError(error, globals.timestampServer);
    throw error;
  }

  // Mode 0600 as Go; atomic, and a symlink at --out is replaced rather than written through.
  await writeOutputFile(out, response, 0o600);
  // With --out /dev/stdout the response is the output: the summary must not follow it there.
  const summary = summaryStream(output, out);
  if (globals.format === 'json') {
    summary(`${JSON.stringify({ Timestamp: rfc3339(genTime), Location: out })}\n`);
  } else {
    summary(
      `Artifact timestamped at ${goTimeString(genTime)}\nWrote timestamp response to ${out}\n`,
    );
  }
}

/**
 * Why the server's answer is not kept: a status other than granted is the server's refusal, as a
 * rejection is (http-client.ts); a parse failure says so itself ("error parsing response…", "…is
 * not valid: …"); anything else (another imprint, nonce or policy, a signature that does not
 * hold) is a well-formed answer that is not the one asked for.
 */
function answerError(error: VerificationError, server: string): CliError {
  if (error.code === 'not-granted')
    return new CliError('SERVER_REFUSED', `error getting timestamp: ${error.message}`, {
      cause: error,
    });
  if (error.code === 'malformed')
    return new CliError('INVALID_RESPONSE', error.message, { cause: error });
  return new CliError('INVALID_RESPONSE', `invalid response from ${server}: ${error.message}`, {
    cause: error,
  });
}

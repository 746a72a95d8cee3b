import { Command } from 'commander';
import { TlogError, verifyTlogProof, type Checkpoint } from '../../tlog/index.js';
import { decodeCertificatesPemStrictly } from '../../x509/pem.js';
import { VerificationError } from '../../verify/errors.js';
import { timestampToJson } from '../../verify/timestamp-json.js';
import { verifyTimestampResponse, type VerifyOptions } from '../../verify/verify-timestamp.js';
import { readTrustedRoot, verifyWithTrustedRoot } from '../../verify/trusted-root.js';
import { option, parseDecimalBigInt, parseExistingFile, parseOid } from './arguments.js';
import { parseLogKey, readLogKey, type LogKeyArgument } from './log-client.js';
import { CliError, type Output } from './output.js';
import { readArtifact } from './read-artifact.js';
import { readTimestampFile } from './timestamp-file.js';
import {
  MAX_TEXT_FILE_BYTES,
  MAX_TIMESTAMP_RESPONSE_BYTES,
  MAX_TRUSTED_ROOT_BYTES,
  readFileCapped,
} from './read-body.js';
import { terminalJson, terminalText } from '../terminal-text.js';
import type { GlobalOptions } from './timestamp-command.js';

interface VerifyCommandOptions {
  artifact: string;
  timestamp: string;
  certificateChain?: string;
  trustedRoot?: string;
  rootCertificates?: string;
  intermediateCertificates?: string;
  certificate?: string;
  nonce?: bigint;
  oid?: string;
  commonName?: string;
  logProof?: string;
  logKey?: LogKeyArgument;
}

const FLAG_RULE =
  'the verify command must be called with either only the --certificate-chain flag or with the --root-certificates and --intermediate-certificates flags';

export function verifyCommand(globals: () => GlobalOptions, output: Output): Command {
  return new Command('verify')
    .description('Verify the timestamp response using a timestamp certificate chain.')
    .addOption(
      option('--artifact <file>', 'path to a blob with signed data')
        .argParser(parseExistingFile)
        .makeOptionMandatory(),
    )
    .addOption(
      option(
        '--timestamp <file>',
        'path to timestamp response to verify (or a bare TimeStampToken, as openssl -token_out writes)',
      )
        .argParser(parseExistingFile)
        .makeOptionMandatory(),
    )
    .addOption(
      option(
        '--certificate-chain <file>',
        'path to certificate chain PEM file (intermediates and root last; a leaf first is allowed)',
      ).argParser(parseExistingFile),
    )
    .addOption(
      option(
        '--trusted-root <file>',
        "Sigstore trusted_root.json (e.g. the server's /api/v1/timestamp/trusted-root): the authority is chosen by the token's signer and genTime",
      ).argParser(parseExistingFile),
    )
    .addOption(
      option(
        '--root-certificates <file>',
        'path to PEM file with the trusted root certificates',
      ).argParser(parseExistingFile),
    )
    .addOption(
      option(
        '--intermediate-certificates <file>',
        'path to PEM file with intermediate certificates',
      ).argParser(parseExistingFile),
    )
    .addOption(
      option(
        '--certificate <file>',
        'path to the TSA certificate (PEM), for responses without embedded certificates',
      ).argParser(parseExistingFile),
    )
    .addOption(
      option('--nonce <n>', 'optional nonce passed with the request (decimal)').argParser(
        parseDecimalBigInt,
      ),
    )
    .addOption(
      option('--oid <oid>', 'optional TSA policy OID passed with the request').argParser(parseOid),
    )
    .addOption(option('--common-name <cn>', 'expected subject common name of the TSA certificate'))
    .addOption(
      option(
        '--log-proof <file>',
        "transparency-log proof of the token (C2SP tlog-proof, from log-proof): check the token is in the TSA's log",
      ).argParser(parseExistingFile),
    )
    .addOption(
      option(
        '--log-key <key>',
        'the log verifier key (origin+keyid+base64), or a file holding it; required with --log-proof',
      ).argParser(parseLogKey),
    )
    .action(async (options: VerifyCommandOptions) => {
      await verify(options, globals(), output);
    });
}

/** What each PEM flag holds, in the words of Go's message for --certificate-chain. */
const PEM_FLAGS = {
  'certificate-chain': 'intermediate and root certs',
  'root-certificates': 'root certs',
  'intermediate-certificates': 'intermediate certs',
  certificate: 'the TSA certificate',
} as const;

async function loadPem(path: string, flag: keyof typeof PEM_FLAGS): Promise<Buffer[]> {
  const text = (await readFileCapped(path, MAX_TEXT_FILE_BYTES, `--${flag}`)).toString('utf8');
  try {
    return decodeCertificatesPemStrictly(text);
  } catch (error) {
    throw new CliError(
      'INVALID_PEM',
      `failed to parse ${PEM_FLAGS[flag]} from PEM file ${path} (--${flag}): ${(error as Error).message}`,
      { cause: error },
    );
  }
}

async function trustOptions(options: VerifyCommandOptions): Promise<VerifyOptions> {
  const usesChain = options.certificateChain !== undefined;
  const usesRoots =
    options.rootCertificates !== undefined || options.intermediateCertificates !== undefined;
  if (usesChain === usesRoots || (usesRoots && options.rootCertificates === undefined))
    throw new CliError('USAGE', FLAG_RULE);
  let roots: Buffer[];
  let intermediates: Buffer[] = [];
  if (options.certificateChain !== undefined) {
    // Root last; everything before it (a leaf included) only helps build the path.
    const chain = await loadPem(options.certificateChain, 'certificate-chain');
    roots = chain.slice(-1);
    intermediates = chain.slice(0, -1);
  } else {
    roots = await loadPem(options.rootCertificates as string, 'root-certificates');
    if (options.intermediateCertificates !== undefined)
      intermediates = await loadPem(options.intermediateCertificates, 'intermediate-certificates');
  }
  const trust: VerifyOptions = { roots, intermediates };
  if (options.certificate !== undefined) {
    const certificates = await loadPem(options.certificate, 'certificate');
    if (certificates.length !== 1)
      throw new CliError(
        'INVALID_PEM',
        `expected one certificate, received ${certificates.length} instead`,
      );
    trust.tsaCertificate = certificates[0] as Buffer;
  }
  if (options.nonce !== undefined) trust.nonce = options.nonce;
  if (options.oid !== undefined) trust.oid = options.oid;
  if (options.commonName !== undefined) trust.commonName = options.commonName;
  return trust;
}

/** --trusted-root: alone, instead of the chain flags (its authorities are the trust). */
async function verifyAgainstTrustedRoot(options: VerifyCommandOptions, tsr: Buffer) {
  if (
    options.certificateChain !== undefined ||
    options.rootCertificates !== undefined ||
    options.intermediateCertificates !== undefined ||
    options.certificate !== undefined
  )
    throw new CliError(
      'USAGE',
      '--trusted-root cannot be combined with --certificate-chain, --root-certificates, --intermediate-certificates or --certificate',
    );
  const file = options.trustedRoot as string;
  const authorities = readTrustedRoot(
    (await readFileCapped(file, MAX_TRUSTED_ROOT_BYTES, '--trusted-root')).toString('utf8'),
  );
  return verifyWithTrustedRoot(tsr, readArtifact(options.artifact), authorities, {
    ...(options.nonce !== undefined ? { nonce: options.nonce } : {}),
    ...(options.oid !== undefined ? { oid: options.oid } : {}),
    ...(options.commonName !== undefined ? { commonName: options.commonName } : {}),
  });
}

async function verify(
  options: VerifyCommandOptions,
  globals: GlobalOptions,
  output: Output,
): Promise<void> {
  if ((options.logProof === undefined) !== (options.logKey === undefined))
    throw new CliError('USAGE', '--log-proof and --log-key go together');
  // A bare TimeStampToken too, as openssl's -token_in reads one: its status is not checked.
  const { response: tsr, bareToken } = readTimestampFile(
    await readFileCapped(options.timestamp, MAX_TIMESTAMP_RESPONSE_BYTES, '--timestamp'),
  );
  let timestamp;
  try {
    timestamp =
      options.trustedRoot !== undefined
        ? await verifyAgainstTrustedRoot(options, tsr)
        : await verifyTimestampResponse(
            tsr,
            readArtifact(options.artifact),
            await trustOptions(options),
          );
  } catch (error) {
    if (error instanceof VerificationError)
      throw new CliError('VERIFICATION_FAILED', `failed to verify timestamp: ${error.message}`, {
        cause: error,
      });
    throw error;
  }
  const logged =
    options.logProof !== undefined && options.logKey !== undefined
      ? await checkLogProof(timestamp.tokenDer, options.logProof, options.logKey)
      : undefined;
  if (globals.format === 'json') {
    const json = timestampToJson(timestamp);
    const parsed = bareToken ? { ...json, status: null } : json;
    const log = logged && {
      LogProof: {
        Index: logged.index,
        Origin: logged.checkpoint.origin,
        TreeSize: logged.checkpoint.size,
      },
    };
    output.stdout(
      `${terminalJson({ TimestampPath: options.timestamp, ParsedTimestamp: parsed, ...log })}\n`,
    );
  } else {
    output.stdout(`Successfully verified timestamp ${options.timestamp}\n`);
    // The origin is the log key's name, which may hold C1 controls or DEL: escaped as log-audit does.
    if (logged)
      output.stdout(
        `The token is entry ${logged.index} of log ${terminalText(logged.checkpoint.origin)} (checkpoint of size ${logged.checkpoint.size})\n`,
      );
  }
}

/**
 * The token (the TimeStampToken ContentInfo inside the response, as the log records it) is
 * included at the proof's index in a checkpoint signed by the log key, whose name is its origin.
 */
async function checkLogProof(
  tokenDer: Uint8Array,
  proofFile: string,
  logKeyArgument: LogKeyArgument,
): Promise<{ index: number; checkpoint: Checkpoint }> {
  const logKey = await readLogKey(logKeyArgument);
  const proof = await readFileCapped(proofFile, MAX_TEXT_FILE_BYTES, '--log-proof');
  try {
    return verifyTlogProof(proof.toString('utf8'), tokenDer, logKey);
  } catch (error) {
    if (error instanceof TlogError)
      throw new CliError('VERIFICATION_FAILED', `failed to verify log proof: ${error.message}`);
    throw error;
  }
}

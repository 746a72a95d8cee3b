import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { decodeCertificatesPem } from '../../x509/pem.js';
import { VerificationError } from '../../verify/errors.js';
import { timestampToJson } from '../../verify/timestamp-json.js';
import { verifyTimestampResponse, type VerifyOptions } from '../../verify/verify-timestamp.js';
import { option, parseDecimalBigInt, parseExistingFile, parseOid } from './arguments.js';
import { CliError, type Output } from './output.js';
import { readArtifact } from './read-artifact.js';
import type { GlobalOptions } from './timestamp-command.js';

interface VerifyCommandOptions {
  artifact: string;
  timestamp: string;
  certificateChain?: string;
  rootCertificates?: string;
  intermediateCertificates?: string;
  certificate?: string;
  nonce?: bigint;
  oid?: string;
  commonName?: string;
}

const FLAG_RULE =
  'the verify command must be called with either only the --certificate-chain flag or with the --root-certificates and --intermediate-certificates flags';

export function verifyCommand(globals: () => GlobalOptions, output: Output): Command {
  return new Command('verify')
    .description('Verify the timestamp response using a timestamp certificate chain.')
    .addOption(
      option('--artifact <file>', 'path to an blob with signed data')
        .argParser(parseExistingFile)
        .makeOptionMandatory(),
    )
    .addOption(
      option('--timestamp <file>', 'path to timestamp response to verify')
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
    .action(async (options: VerifyCommandOptions) => {
      await verify(options, globals(), output);
    });
}

async function loadPem(path: string): Promise<Buffer[]> {
  try {
    return decodeCertificatesPem(await readFile(path, 'utf8'));
  } catch (error) {
    throw new CliError('INVALID_PEM', 'failed to parse intermediate and root certs from PEM file', {
      cause: error,
    });
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
    const chain = await loadPem(options.certificateChain);
    roots = chain.slice(-1);
    intermediates = chain.slice(0, -1);
  } else {
    roots = await loadPem(options.rootCertificates as string);
    if (options.intermediateCertificates !== undefined)
      intermediates = await loadPem(options.intermediateCertificates);
  }
  const trust: VerifyOptions = { roots, intermediates };
  if (options.certificate !== undefined) {
    const certificates = await loadPem(options.certificate);
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

async function verify(
  options: VerifyCommandOptions,
  globals: GlobalOptions,
  output: Output,
): Promise<void> {
  const trust = await trustOptions(options);
  const tsr = await readFile(options.timestamp);
  let timestamp;
  try {
    timestamp = await verifyTimestampResponse(tsr, readArtifact(options.artifact), trust);
  } catch (error) {
    if (error instanceof VerificationError)
      throw new CliError('VERIFICATION_FAILED', `failed to verify timestamp: ${error.message}`, {
        cause: error,
      });
    throw error;
  }
  if (globals.format === 'json') {
    output.stdout(
      `${JSON.stringify({ TimestampPath: options.timestamp, ParsedTimestamp: timestampToJson(timestamp) })}\n`,
    );
  } else {
    output.stdout(`Successfully verified timestamp ${options.timestamp}\n`);
  }
}

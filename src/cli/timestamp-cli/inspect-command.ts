import { Command } from 'commander';
import { oid, sequence, toHex } from '../../asn1/der.js';
import { OID } from '../../asn1/oids.js';
import {
  parseTimestampResponse,
  timestampToJson,
  VerificationError,
  type ParsedToken,
  type TimestampJson,
  verifySignerInfo,
} from '../../verify/index.js';
import { option, parseExistingFile } from './arguments.js';
import { CliError, type Output } from './output.js';
import { terminalJson, terminalText } from '../terminal-text.js';
import { MAX_TIMESTAMP_RESPONSE_BYTES, readFileCapped } from './read-body.js';
import { readTimestampFile } from './timestamp-file.js';
import type { GlobalOptions } from './timestamp-command.js';

/**
 * Whether the token's signature verifies with the certificate its SignerInfo designates among
 * the embedded ones, as the words shown, and the VerificationError when it does not. No chain or
 * trust check: inspect only shows what the token says.
 */
function embeddedSignatureCheck(
  token: ParsedToken,
  json: TimestampJson,
): { shown: string; failure?: VerificationError } {
  const { certificates } = token.timestamp;
  if (certificates.length === 0) return { shown: 'not checked (no certificate embedded)' };
  try {
    // The signer is one of the embedded certificates, named as the JSON view names them.
    const signer = json.certificates[certificates.indexOf(verifySignerInfo(token, certificates))];
    return { shown: `valid, by the embedded certificate ${signer?.subject} (chain not checked)` };
  } catch (error) {
    if (error instanceof VerificationError)
      return { shown: `INVALID: ${error.message}`, failure: error };
    throw error;
  }
}

export function inspectCommand(globals: () => GlobalOptions, output: Output): Command {
  return new Command('inspect')
    .description('Inspect timestamp')
    .addOption(
      option(
        '--timestamp <file>',
        'path to timestamp response to inspect (or a bare TimeStampToken, as openssl -token_out writes)',
      )
        .argParser(parseExistingFile)
        .makeOptionMandatory(),
    )
    .action(async (options: { timestamp: string }) => {
      const tsr = await readFileCapped(
        options.timestamp,
        MAX_TIMESTAMP_RESPONSE_BYTES,
        '--timestamp',
      );
      // A bare TimeStampToken (openssl ts -reply -token_out) too: it has no status.
      const { response, bareToken } = readTimestampFile(tsr);
      let token;
      try {
        token = parseTimestampResponse(response);
      } catch (error) {
        if (error instanceof VerificationError)
          throw new CliError('INVALID_RESPONSE', error.message, { cause: error });
        throw error;
      }
      const json = timestampToJson(token.timestamp);
      const signature = embeddedSignatureCheck(token, json);
      if (globals().format === 'json') {
        const shown = bareToken ? { ...json, status: null } : json;
        output.stdout(
          `${terminalJson({ TimestampResponse: shown, EmbeddedSignature: signature.shown }, 2)}\n`,
        );
      } else {
        output.stdout(renderText(json, signature.shown, bareToken));
      }
      // Shown whole, then a failure, as Go's inspect fails (its parser verifies the signature
      // of a token that embeds certificates): a script must not take a forged token for one.
      if (signature.failure)
        throw new CliError(
          'VERIFICATION_FAILED',
          `the token's signature does not verify with its embedded signer certificate: ${signature.failure.message}`,
          { cause: signature.failure },
        );
    });
}

/** qcStatements' value in a qualified token: one QCStatement, esi4-qtstStatement-1 (ETSI EN 319 422). */
const QUALIFIED_STATEMENT = toHex(sequence(sequence(oid(OID.esi4QtstStatement1))));

/** The name shown after an extension's OID: for qcStatements, and what a qualified one says. */
function extensionName(extension: TimestampJson['extensions'][number]): string {
  if (extension.oid !== OID.qcStatements) return '';
  return extension.value === QUALIFIED_STATEMENT
    ? ' (qcStatements: esi4-qtstStatement-1, an EU qualified time-stamp)'
    : ' (qcStatements)';
}

function renderText(ts: TimestampJson, signature: string, bareToken: boolean): string {
  const accuracy = ts.accuracy
    ? `${ts.accuracy.seconds}s ${ts.accuracy.millis}ms ${ts.accuracy.micros}us`
    : '(unspecified)';
  const lines = [
    `Status:            ${bareToken ? '(none: a bare TimeStampToken, not a TimeStampResp)' : ts.status}`,
    `Version:           ${ts.version}`,
    `Policy OID:        ${ts.policy}`,
    `Serial number:     0x${ts.serialNumber}`,
    `Time stamp:        ${ts.genTime}`,
    `Accuracy:          ${accuracy}`,
    `Ordering:          ${ts.ordering ? 'yes' : 'no'}`,
    `Nonce:             ${ts.nonce ?? '(none)'}`,
    `TSA name:          ${ts.tsaName ?? '(unspecified)'}`,
    `Hash algorithm:    ${ts.messageImprint.hashAlgorithm} (${ts.messageImprint.hashAlgorithmOid})`,
    `Message digest:    ${ts.messageImprint.hashedMessage}`,
    `Extensions:        ${ts.extensions.length === 0 ? '(none)' : ''}`,
    ...ts.extensions.map(
      (e) => `  ${e.oid}${extensionName(e)}${e.critical ? ' (critical)' : ''}: ${e.value}`,
    ),
    'Signer:',
    `  Identifier:      ${ts.signer.identifier}`,
    `  Digest:          ${ts.signer.digestAlgorithm}`,
    `  Signature OID:   ${ts.signer.signatureAlgorithmOid}`,
    `  Signing time:    ${ts.signer.signingTime ?? '(none)'}`,
    `  Signature:       ${signature}`,
    '  Signed attributes:',
    ...ts.signer.signedAttributes.map((a) => `    ${a.name}: ${a.description}`),
    `Certificates:      ${ts.certificates.length === 0 ? '(none embedded)' : ts.certificates.length}`,
    ...ts.certificates.flatMap((c, index) => [
      `  [${index}] Subject:     ${c.subject}`,
      `      Issuer:      ${c.issuer}`,
      `      Serial:      0x${c.serialNumber}`,
      `      Valid:       ${c.notBefore} to ${c.notAfter}`,
      `      SHA-256:     ${c.sha256Fingerprint}`,
    ]),
  ];
  // Names, extensions and the signature check's words come from the token: each line escaped.
  return `${lines.map(terminalText).join('\n')}\n`;
}

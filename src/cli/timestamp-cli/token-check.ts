import { ChainCache } from '../../verify/chain.js';
import {
  parseTimestampToken,
  VerificationError,
  type ParsedToken,
  verifySignerInfo,
} from '../../verify/index.js';
import { verifyParsedToken } from '../../verify/verify-timestamp.js';
import { CliError } from './output.js';

/**
 * log-audit's check of one entry as a time-stamp token of the TSA, on the main thread (--jobs 1)
 * or in a worker thread (token-check-worker.ts): the one place this check is written.
 */

/** What a token that passed the check tells the audit. */
export interface TokenVerdict {
  serial: bigint;
  /** without --chain: it embeds no signer certificate, so its signature was not checked */
  unchecked: boolean;
}

/**
 * Checks that each entry is a time-stamp token of this TSA. The log records tokens as sent: one
 * requested without certReq (RFC 3161 section 2.4.1; openssl's default) embeds no certificate, and
 * its signer certificate, the one its SignerInfo's sid names (RFC 5652 section 5.3), can only come
 * from --chain.
 */
export class TokenCheck {
  /** Every token names the same chain: each path is built and checked once (see ChainCache). */
  private readonly chains = new ChainCache();

  /** `chain`: DER certificates, root last; without it, only each token's own signature. */
  constructor(readonly chain: readonly Uint8Array[] | undefined) {}

  /**
   * The verdict on entry `index`, or what it fails with: a VerificationError, or with --chain the
   * CliError naming a signer certificate found nowhere.
   */
  async check(entry: Uint8Array, index: number): Promise<TokenVerdict> {
    const token = parseTimestampToken(entry);
    let unchecked = false;
    if (this.chain) await this.verifyUnderChain(token, this.chain, index);
    else unchecked = !signedByEmbedded(token);
    return { serial: token.timestamp.serialNumber, unchecked };
  }

  /**
   * The checks of `verify --certificate-chain`, with the signer certificate the sid names among
   * the token's certificates, else among the chain's: each is offered as the TSA certificate in
   * turn, and the verifier refuses one the sid does not name ('no-signer-certificate'). The token
   * is parsed once (by check) for all of them: verify parses the response's bytes, here the entry
   * itself, into the same ParsedToken.
   */
  private async verifyUnderChain(
    token: ParsedToken,
    chain: readonly Uint8Array[],
    index: number,
  ): Promise<void> {
    const { timestamp } = token;
    const offers = timestamp.certificates.length > 0 ? [undefined, ...chain] : chain;
    for (const tsaCertificate of offers) {
      try {
        await verifyParsedToken(
          token,
          { digest: timestamp.hashedMessage },
          {
            roots: chain.slice(-1),
            intermediates: chain.slice(0, -1),
            ...(tsaCertificate ? { tsaCertificate } : {}),
          },
          undefined,
          this.chains,
        );
        return;
      } catch (error) {
        if (!(error instanceof VerificationError && error.code === 'no-signer-certificate'))
          throw error;
      }
    }
    throw new CliError(
      'VERIFICATION_FAILED',
      `entry ${index}: its signer certificate (${timestamp.signer.identifier}) is in neither the token nor --chain: put the TSA certificate in the --chain file`,
    );
  }
}

/**
 * Whether the token's signature verifies by the embedded certificate its sid names; false when
 * none is embedded. The messageDigest attribute is checked either way.
 */
function signedByEmbedded(token: ParsedToken): boolean {
  try {
    verifySignerInfo(token, token.timestamp.certificates);
    return true;
  } catch (error) {
    if (error instanceof VerificationError && error.code === 'no-signer-certificate') return false;
    throw error;
  }
}

/**
 * A check's failure as it crosses from a worker thread: the class it was, its code and message,
 * which is all the audit reads of it. `other` is anything else the check threw (a bug, not a
 * verdict on the token).
 */
export type WireError =
  | { kind: 'verification' | 'cli'; code: string; message: string }
  | { kind: 'other'; code: string | undefined; message: string };

/** The outcome of one entry's check, as a worker answers it. */
export type WireOutcome = { verdict: TokenVerdict } | { error: WireError };

/** The outcome of one entry's check: its verdict, or the verification error it failed with. */
export type TokenOutcome = { verdict: TokenVerdict } | { error: VerificationError | CliError };

export function toWireError(error: unknown): WireError {
  if (error instanceof VerificationError)
    return { kind: 'verification', code: error.code, message: error.message };
  if (error instanceof CliError) return { kind: 'cli', code: error.code, message: error.message };
  const named = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return { kind: 'other', code: typeof code === 'string' ? code : undefined, message: named };
}

/**
 * The error a worker's check threw, made again as its class with its code and message (the audit's
 * report quotes the message), or undefined for `other`, which the pool reports as a check that
 * failed unexpectedly ('CHECK_FAILED').
 */
export function fromWireError(wire: WireError): VerificationError | CliError | undefined {
  switch (wire.kind) {
    case 'verification':
      return new VerificationError(wire.code as VerificationError['code'], wire.message);
    case 'cli':
      return new CliError(wire.code as CliError['code'], wire.message);
    default:
      return undefined;
  }
}

/** A batch of entries sent to a worker: the entries' bytes end to end, each ending at ends[i]. */
export interface CheckBatch {
  id: number;
  /** the log index of the first entry */
  first: number;
  bytes: Uint8Array;
  ends: Uint32Array;
}

/**
 * A worker's answer to a batch: one outcome per entry, in order, up to the first that failed (the
 * audit stops at it, so the entries after it are not checked).
 */
export interface CheckAnswer {
  id: number;
  outcomes: WireOutcome[];
}

/** The data a worker starts with. */
export interface CheckWorkerData {
  chain: Uint8Array[] | undefined;
}

/** Checks the entries of `batch` in order, up to the first that fails. */
export async function checkBatch(check: TokenCheck, batch: CheckBatch): Promise<CheckAnswer> {
  const outcomes: WireOutcome[] = [];
  let start = 0;
  for (const [i, end] of batch.ends.entries()) {
    const entry = batch.bytes.subarray(start, end);
    start = end;
    try {
      outcomes.push({ verdict: await check.check(entry, batch.first + i) });
    } catch (error) {
      outcomes.push({ error: toWireError(error) });
      break;
    }
  }
  return { id: batch.id, outcomes };
}

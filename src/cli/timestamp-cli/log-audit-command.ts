import { Command } from 'commander';
import {
  checkTree,
  EMPTY_TREE_HASH,
  formatHash,
  hashEqual,
  openCheckpoint,
  parseEntryBundle,
  proveTree,
  recordHash,
  storedHashIndex,
  TILE_HEIGHT,
  tileHashReader,
  TileHasher,
  tilePath,
  TlogError,
  type Checkpoint,
  type Hash,
  type Tile,
  type TileData,
  type TileReader,
} from '../../tlog/index.js';
import { decodeCertificatesPemStrictly } from '../../x509/pem.js';
import { ChainCache } from '../../verify/chain.js';
import {
  parseTimestampToken,
  VerificationError,
  type ParsedToken,
  verifySignerInfo,
} from '../../verify/index.js';
import { verifyParsedToken } from '../../verify/verify-timestamp.js';
import { option, parseExistingFile } from './arguments.js';
import {
  getLogResource,
  httpTileReader,
  LOG_PATH,
  parseLogKey,
  parseLogUrl,
  parseServedLogKey,
  readLogKey,
  type LogKeyArgument,
} from './log-client.js';
import { MAX_TEXT_FILE_BYTES, readFileCapped } from './read-body.js';
import { CliError, type Output } from './output.js';
import { terminalJson, terminalText } from '../terminal-text.js';
import {
  checkOutputFile,
  PUBLIC_FILE_MODE,
  summaryStream,
  writeOutputFile,
} from './write-output.js';
import type { GlobalOptions } from './timestamp-command.js';

export interface LogAuditOptions {
  logKey?: LogKeyArgument;
  checkpoint?: string;
  chain?: string;
  saveCheckpoint?: string;
}

/** What an audit established. */
export interface LogAuditReport {
  origin: string;
  size: number;
  rootHash: string;
  logKey: string;
  /** true when the key came from the server (GET /api/v1/log/key) rather than --log-key */
  keyFromServer: boolean;
  /** 'chain' with --chain, else 'signature' (each token's signature by its embedded certificate) */
  tokensChecked: 'chain' | 'signature';
  /**
   * Tokens not checked: without --chain, those that embed no signer certificate (requested
   * without certReq). Always 0 with --chain, where such a token fails the audit.
   */
  tokensUnchecked: number;
  /** the size of the saved checkpoint this one was proven consistent with */
  consistentWithSize?: number;
}

const TILE_WIDTH = 2 ** TILE_HEIGHT;

export function logAuditCommand(globals: () => GlobalOptions, output: Output): Command {
  return new Command('log-audit')
    .description(
      "Audit a TSA's transparency log: check its checkpoint, recompute the tree from every entry and tile, check that every entry is a valid token of this TSA with a unique serial, and that the log is consistent with a saved checkpoint",
    )
    .argument('<url>', 'base URL of the TSA (the log is under <url>/api/v1/log/)', parseLogUrl)
    .addOption(
      option(
        '--log-key <key>',
        'the log verifier key (origin+keyid+base64), or a file holding it; by default the key the server publishes, which proves nothing',
      ).argParser(parseLogKey),
    )
    .addOption(
      option(
        '--checkpoint <file>',
        'a checkpoint saved earlier: the log must be consistent with it',
      ).argParser(parseExistingFile),
    )
    .addOption(
      option(
        '--chain <file>',
        'the TSA certificate chain (PEM, root last): every token must verify against it',
      ).argParser(parseExistingFile),
    )
    .addOption(option('--save-checkpoint <file>', 'write the audited checkpoint to this file'))
    .action(async (url: string, options: LogAuditOptions) => {
      const report = await auditLog(url, options, globals().timeout);
      // With --save-checkpoint /dev/stdout the checkpoint is the output: the report goes to stderr.
      const print =
        options.saveCheckpoint === undefined
          ? output.stdout
          : summaryStream(output, options.saveCheckpoint);
      printReport(report, globals().format, print);
    });
}

function printReport(
  report: LogAuditReport,
  format: GlobalOptions['format'],
  print: (text: string) => void,
) {
  if (format === 'json') {
    print(`${terminalJson(report)}\n`);
    return;
  }
  const lines = [
    `log ${report.origin}: ${report.size} entries, root hash ${report.rootHash}`,
    `checkpoint signature verified with ${report.logKey}${report.keyFromServer ? ' (the key the server publishes: pass --log-key to pin it)' : ''}`,
    `${report.size - report.tokensUnchecked} tokens valid (${report.tokensChecked === 'chain' ? 'signed under the given chain' : 'signature by the embedded certificate only: pass --chain to check the TSA'}), serial numbers unique`,
  ];
  if (report.tokensUnchecked > 0)
    lines.push(
      `${report.tokensUnchecked} tokens cannot be checked without --chain: they embed no signer certificate (requested without certReq)`,
    );
  if (report.consistentWithSize !== undefined)
    lines.push(`consistent with the saved checkpoint of size ${report.consistentWithSize}`);
  // The origin and a served key are the server's words.
  print(`${lines.map(terminalText).join('\n')}\n`);
}

/** Fails the audit with one line; TlogErrors keep their message. */
function auditError(what: string, error: unknown): never {
  if (error instanceof TlogError || error instanceof VerificationError)
    throw new CliError('VERIFICATION_FAILED', `${what}: ${error.message}`);
  throw error;
}

/** Audits the log of the TSA at `base`. Throws a CliError naming the first problem found. */
export async function auditLog(
  base: string,
  options: LogAuditOptions,
  timeoutMs: number,
): Promise<LogAuditReport> {
  // Before a long audit whose checkpoint could not be kept.
  if (options.saveCheckpoint !== undefined) await checkOutputFile(options.saveCheckpoint);
  // Before any request too: a --chain file it cannot use ends the audit at once.
  const chain = await readChain(options.chain);
  const keyFromServer = options.logKey === undefined;
  const logKey =
    options.logKey !== undefined
      ? await readLogKey(options.logKey)
      : parseServedLogKey(
          (await getLogResource(base, 'key', timeoutMs)) as Buffer,
          `${base}${LOG_PATH}key`,
        );
  const signed = (await getLogResource(base, 'checkpoint', timeoutMs)) as Buffer;
  let checkpoint: Checkpoint;
  try {
    checkpoint = openCheckpoint(signed, logKey).checkpoint;
  } catch (error) {
    auditError('the log checkpoint does not verify', error);
  }

  // The cheap check first: consistency needs a few tiles, the entries need every bundle.
  const consistentWithSize =
    options.checkpoint === undefined
      ? undefined
      : await checkConsistency(
          base,
          checkpoint,
          await readFileCapped(options.checkpoint, MAX_TEXT_FILE_BYTES, '--checkpoint'),
          logKey,
          timeoutMs,
        );
  // Bundle by bundle, each entry first matched with the leaf hash of the checkpoint's tree (from
  // tiles authenticated against it), then checked as a token; the tree's hash tiles are recomputed
  // from the entries as they come and each compared with the served one once complete. What is
  // held is one bundle, the tiles on the tree's right edge and the serial numbers seen.
  const tokens = new TokenChecker(chain);
  const tiles = new TileHasher(TILE_HEIGHT);
  const served = httpTileReader(base, timeoutMs);
  const leaves = tileHashReader({ n: checkpoint.size, hash: checkpoint.hash }, served);
  for (let n = 0; n * TILE_WIDTH < checkpoint.size; n++) {
    const bundle = await fetchEntryBundle(base, n, checkpoint.size, timeoutMs);
    let hashes: Hash[];
    try {
      hashes = await leaves.readHashes(bundle.map((_, i) => storedHashIndex(0, tiles.size + i)));
    } catch (error) {
      auditError(`the tiles do not hash to the checkpoint's root hash`, error);
    }
    for (const [i, entry] of bundle.entries()) {
      const leaf = recordHash(entry);
      if (!hashEqual(leaf, hashes[i]!))
        throw new CliError(
          'VERIFICATION_FAILED',
          `entry ${tiles.size} is not the entry the checkpoint's tree holds`,
        );
      await tokens.check(entry, tiles.size);
      for (const full of tiles.appendLeafHash(leaf)) await checkServedTile(served, full);
    }
  }
  if (!hashEqual(tiles.treeHash(), checkpoint.hash))
    throw new CliError(
      'VERIFICATION_FAILED',
      `the ${checkpoint.size} entries do not hash to the checkpoint's root hash ${formatHash(checkpoint.hash)}`,
    );
  // The partial tiles last: with the full ones compared as they completed, every hash tile the
  // tree has at this size.
  for (const partial of tiles.partialTiles()) await checkServedTile(served, partial);
  const tokensChecked = tokens.chain ? 'chain' : 'signature';

  const report: LogAuditReport = {
    origin: checkpoint.origin,
    size: checkpoint.size,
    rootHash: formatHash(checkpoint.hash),
    logKey,
    keyFromServer,
    tokensChecked,
    tokensUnchecked: tokens.unchecked,
  };
  if (consistentWithSize !== undefined) report.consistentWithSize = consistentWithSize;
  if (options.saveCheckpoint !== undefined)
    await writeOutputFile(options.saveCheckpoint, signed, PUBLIC_FILE_MODE);
  return report;
}

/** The entries of bundle n of the tree at `size` (the partial one, or its full tile once complete). */
async function fetchEntryBundle(
  base: string,
  n: number,
  size: number,
  timeoutMs: number,
): Promise<Uint8Array[]> {
  const w = Math.min(TILE_WIDTH, size - n * TILE_WIDTH);
  const tile: Tile = { h: TILE_HEIGHT, l: -1, n, w };
  let data = await getLogResource(base, tilePath(tile), timeoutMs, w < TILE_WIDTH);
  data ??= await getLogResource(base, tilePath({ ...tile, w: TILE_WIDTH }), timeoutMs);
  let bundle: Uint8Array[];
  try {
    bundle = parseEntryBundle(data as Buffer);
  } catch (error) {
    auditError(`entry bundle ${tilePath(tile)}`, error);
  }
  if (bundle.length < w || (w === TILE_WIDTH && bundle.length !== w))
    throw new CliError(
      'VERIFICATION_FAILED',
      `entry bundle ${tilePath(tile)} has ${bundle.length} entries, want ${w}`,
    );
  return bundle.slice(0, w);
}

/** A hash tile recomputed from the entries must be the one the log serves. */
async function checkServedTile(served: TileReader, { tile, data }: TileData): Promise<void> {
  const [servedData] = await served.readTiles([tile]);
  if (!servedData || !Buffer.from(data).equals(servedData))
    throw new CliError(
      'VERIFICATION_FAILED',
      `tile ${tilePath(tile)} is not the tile recomputed from the entries`,
    );
}

async function readChain(chainFile: string | undefined): Promise<Buffer[] | undefined> {
  if (chainFile === undefined) return undefined;
  const text = (await readFileCapped(chainFile, MAX_TEXT_FILE_BYTES, '--chain')).toString('utf8');
  try {
    // Strictly: a chain file cut short must not lose its root, nor a key in it be skipped.
    return decodeCertificatesPemStrictly(text);
  } catch (error) {
    throw new CliError(
      'INVALID_PEM',
      `failed to parse the certificates of ${chainFile} (--chain): ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/**
 * Checks that each entry is a time-stamp token of this TSA and that no serial number repeats. The
 * log records tokens as sent: one requested without certReq (RFC 3161 section 2.4.1; openssl's
 * default) embeds no certificate, and its signer certificate, the one its SignerInfo's sid names
 * (RFC 5652 section 5.3), can only come from --chain.
 */
class TokenChecker {
  private readonly serials = new Map<bigint, number>();
  /** Entries whose signer certificate is not embedded, counted without --chain. */
  unchecked = 0;
  /** Every token names the same chain: each path is built and checked once (see ChainCache). */
  private readonly chains = new ChainCache();

  /** `chain`: PEM certificates, root last; without it, only each token's own signature. */
  constructor(readonly chain: Buffer[] | undefined) {}

  async check(entry: Uint8Array, index: number): Promise<void> {
    let serial: bigint;
    try {
      const token = parseTimestampToken(entry);
      if (this.chain) await this.verifyUnderChain(token, this.chain, index);
      else if (!signedByEmbedded(token)) this.unchecked++;
      serial = token.timestamp.serialNumber;
    } catch (error) {
      auditError(`entry ${index} is not a valid token of this TSA`, error);
    }
    const earlier = this.serials.get(serial);
    if (earlier !== undefined)
      throw new CliError(
        'VERIFICATION_FAILED',
        `entries ${earlier} and ${index} have the same serial number 0x${serial.toString(16)}`,
      );
    this.serials.set(serial, index);
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
    chain: Buffer[],
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

/** The log at `checkpoint` extends the saved one: a consistency proof computed from the tiles. */
async function checkConsistency(
  base: string,
  checkpoint: Checkpoint,
  saved: Uint8Array,
  logKey: string,
  timeoutMs: number,
): Promise<number> {
  let old: Checkpoint;
  try {
    old = openCheckpoint(saved, logKey).checkpoint;
  } catch (error) {
    auditError('the saved checkpoint does not verify with the log key', error);
  }
  const inconsistent = `the log (size ${checkpoint.size}) is not consistent with the saved checkpoint (size ${old.size})`;
  if (old.size > checkpoint.size)
    throw new CliError('VERIFICATION_FAILED', `${inconsistent}: the log shrank`);
  if (old.size === 0) {
    if (!hashEqual(old.hash, EMPTY_TREE_HASH))
      throw new CliError('VERIFICATION_FAILED', inconsistent);
    return 0;
  }
  try {
    const tiles = tileHashReader(
      { n: checkpoint.size, hash: checkpoint.hash },
      httpTileReader(base, timeoutMs),
    );
    const proof = await proveTree(checkpoint.size, old.size, tiles);
    checkTree(proof, checkpoint.size, checkpoint.hash, old.size, old.hash);
  } catch (error) {
    auditError(inconsistent, error);
  }
  return old.size;
}

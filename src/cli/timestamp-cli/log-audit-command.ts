import { availableParallelism } from 'node:os';
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
  type HashReader,
  type Tile,
  type TileData,
  type TileReader,
} from '../../tlog/index.js';
import { decodeCertificatesPemStrictly } from '../../x509/pem.js';
import { VerificationError } from '../../verify/index.js';
import { option, parseExistingFile, parseIntegerIn } from './arguments.js';
import {
  getLogResource,
  getTileOrFull,
  httpTileReader,
  LOG_PATH,
  parseLogKey,
  parseLogUrl,
  parseServedLogKey,
  readLogKey,
  type LogKeyArgument,
} from './log-client.js';
import { MAX_TEXT_FILE_BYTES, readFileCapped } from './read-body.js';
import { SerialNumberSet } from './serial-number-set.js';
import { CliError, type Output } from './output.js';
import { terminalJson, terminalText } from '../terminal-text.js';
import {
  checkOutputFile,
  PUBLIC_FILE_MODE,
  summaryStream,
  writeOutputFile,
} from './write-output.js';
import type { GlobalOptions } from './timestamp-command.js';
import { TokenCheckPool } from './token-check-pool.js';
import { TokenCheck, type TokenOutcome, type TokenVerdict } from './token-check.js';

export interface LogAuditOptions {
  logKey?: LogKeyArgument;
  checkpoint?: string;
  chain?: string;
  saveCheckpoint?: string;
  /**
   * threads checking the tokens; 1: the main thread alone. Default: availableParallelism(), or 1
   * for a log of fewer than SMALL_LOG entries
   */
  jobs?: number;
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
/** The most --jobs: a thread each, each with its own heap of PKI.js. */
const MAX_JOBS = 256;
/**
 * Below this many entries the main thread alone checks the tokens unless --jobs says otherwise: a
 * token takes ~0.3 ms, a worker thread ~0.2 s to start (about as long as 700 tokens).
 */
const SMALL_LOG = 4096;
/** Entries sent to a worker thread at a time, at most (fewer in a log too small to share out). */
const MAX_BATCH = 128;

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
    .addOption(
      option(
        '--jobs <n>',
        `check the tokens on n threads (1: on the main thread alone; at most ${MAX_JOBS}); default: the number of cores, 1 for a log of fewer than ${SMALL_LOG} entries`,
      ).argParser(parseIntegerIn(1, MAX_JOBS)),
    )
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

/** Why tiles that a tileHashReader refused fail the audit: they are not the checkpoint's tree. */
const TILES_NOT_THE_CHECKPOINTS = "the tiles do not hash to the checkpoint's root hash";

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
  // The tiles of the checkpoint's tree, for the consistency proof and the entries alike; a tree
  // too large for this client is refused here, before anything else is fetched or started.
  const served = httpTileReader(base, timeoutMs);
  const tree = checkpointTree(checkpoint, served);

  // The cheap check first: consistency needs a few tiles, the entries need every bundle.
  const consistentWithSize =
    options.checkpoint === undefined
      ? undefined
      : await checkConsistency(
          checkpoint,
          tree,
          await readFileCapped(options.checkpoint, MAX_TEXT_FILE_BYTES, '--checkpoint'),
          logKey,
        );
  // Bundle by bundle, each entry first matched with the leaf hash of the checkpoint's tree (from
  // tiles authenticated against it), then checked as a token; the tree's hash tiles are recomputed
  // from the entries as they come and each compared with the served one once complete. What is
  // held is one bundle, the tiles on the tree's right edge, the serial numbers seen and, with
  // --jobs above 1, the batches of entries the worker threads hold (a bounded number).
  const jobs = options.jobs ?? (checkpoint.size < SMALL_LOG ? 1 : availableParallelism());
  const tokens = new TokenChecker(chain, jobs, checkpoint.size);
  try {
    try {
      await auditEntries(base, checkpoint, { served, tree }, tokens, timeoutMs);
    } catch (error) {
      // With the tokens checked on other threads, the tree and tiles run ahead of them: a failure
      // there at entry N stands only if no token before N fails, as when checked one by one.
      await tokens.settle();
      throw error;
    }
    await tokens.settle();
  } finally {
    await tokens.close();
  }
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

/**
 * Every entry of the log at `checkpoint`, in order: matched with the tree's leaf hash, handed to
 * `tokens`, hashed into the tree's tiles, each compared with the served one as it completes; then
 * the root hash and the partial tiles.
 */
async function auditEntries(
  base: string,
  checkpoint: Checkpoint,
  { served, tree: leaves }: { served: TileReader; tree: HashReader },
  tokens: TokenChecker,
  timeoutMs: number,
): Promise<void> {
  const tiles = new TileHasher(TILE_HEIGHT);
  for (let n = 0; n * TILE_WIDTH < checkpoint.size; n++) {
    const bundle = await fetchEntryBundle(base, n, checkpoint.size, timeoutMs);
    let hashes: Hash[];
    try {
      hashes = await leaves.readHashes(bundle.map((_, i) => storedHashIndex(0, tiles.size + i)));
    } catch (error) {
      auditError(TILES_NOT_THE_CHECKPOINTS, error);
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
    // The worker threads get this bundle's last entries before the next is fetched.
    await tokens.flush();
  }
  if (!hashEqual(tiles.treeHash(), checkpoint.hash))
    throw new CliError(
      'VERIFICATION_FAILED',
      `the ${checkpoint.size} entries do not hash to the checkpoint's root hash ${formatHash(checkpoint.hash)}`,
    );
  // The partial tiles last: with the full ones compared as they completed, every hash tile the
  // tree has at this size.
  for (const partial of tiles.partialTiles()) await checkServedTile(served, partial);
}

/**
 * The entries of bundle n of the tree at `size`: the partial one, or its full bundle once the log
 * has it (getTileOrFull), of which the first w.
 */
async function fetchEntryBundle(
  base: string,
  n: number,
  size: number,
  timeoutMs: number,
): Promise<Uint8Array[]> {
  const w = Math.min(TILE_WIDTH, size - n * TILE_WIDTH);
  const tile: Tile = { h: TILE_HEIGHT, l: -1, n, w };
  const { data, full } = await getTileOrFull(base, tile, timeoutMs);
  let bundle: Uint8Array[];
  try {
    bundle = parseEntryBundle(data);
  } catch (error) {
    auditError(`entry bundle ${tilePath(tile)}`, error);
  }
  // Exactly its width (C2SP tlog-tiles): entries past it would escape every check below.
  const want = full ? TILE_WIDTH : w;
  if (bundle.length !== want)
    throw new CliError(
      'VERIFICATION_FAILED',
      `entry bundle ${tilePath({ ...tile, w: want })} has ${bundle.length} entries, want ${want}`,
    );
  return bundle.slice(0, w);
}

/**
 * The hashes of the checkpoint's tree, from `served` tiles authenticated against its root hash; a
 * tree larger than the tile math counts exactly (tileHashReader's MAX_TREE_SIZE) fails the audit.
 */
function checkpointTree(checkpoint: Checkpoint, served: TileReader): HashReader {
  try {
    return tileHashReader({ n: checkpoint.size, hash: checkpoint.hash }, served);
  } catch (error) {
    auditError('the log checkpoint', error);
  }
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
 * Checks that each entry is a time-stamp token of this TSA (token-check.ts) and that no serial
 * number repeats. With `jobs` 1 each check runs here as the entry comes; with more, on worker
 * threads (token-check-pool.ts), their outcomes taken here in entry order: the serial numbers, the
 * count of unchecked tokens and the first failure are the same either way.
 */
class TokenChecker {
  private readonly serials = new SerialNumberSet();
  /** Entries whose signer certificate is not embedded, counted without --chain. */
  unchecked = 0;
  private readonly local: TokenCheck | undefined;
  private readonly pool: TokenCheckPool | undefined;

  /** `chain`: PEM certificates, root last; without it, only each token's own signature. */
  constructor(
    readonly chain: Buffer[] | undefined,
    jobs: number,
    size: number,
  ) {
    if (jobs === 1) {
      this.local = new TokenCheck(chain);
      return;
    }
    this.pool = new TokenCheckPool({
      jobs,
      // Batches enough for every thread (two each) in a small log.
      batchSize: Math.max(1, Math.min(MAX_BATCH, Math.ceil(size / (2 * jobs)))),
      chain,
      take: (index, outcome) => this.take(index, outcome),
    });
  }

  /** Checks entry `index`, the next in order: at once with jobs 1, else queued to the pool. */
  async check(entry: Uint8Array, index: number): Promise<void> {
    if (this.pool) return this.pool.submit(entry, index);
    let verdict: TokenVerdict;
    try {
      verdict = await this.local!.check(entry, index);
    } catch (error) {
      auditError(`entry ${index} is not a valid token of this TSA`, error);
    }
    this.record(index, verdict);
  }

  /** Hands the entries queued so far to the worker threads. */
  async flush(): Promise<void> {
    await this.pool?.flush();
  }

  /** Every entry handed to check() so far checked, and the first failure thrown. */
  async settle(): Promise<void> {
    await this.pool?.settle();
  }

  /** Ends the worker threads. */
  async close(): Promise<void> {
    await this.pool?.close();
  }

  /** A worker's outcome for entry `index`, taken in entry order. */
  private take(index: number, outcome: TokenOutcome): void {
    if ('error' in outcome)
      auditError(`entry ${index} is not a valid token of this TSA`, outcome.error);
    this.record(index, outcome.verdict);
  }

  private record(index: number, { serial, unchecked }: TokenVerdict): void {
    if (unchecked) this.unchecked++;
    const earlier = this.serials.add(serial, index);
    if (earlier !== undefined)
      throw new CliError(
        'VERIFICATION_FAILED',
        `entries ${earlier} and ${index} have the same serial number 0x${serial.toString(16)}`,
      );
  }
}

/**
 * The log at `checkpoint` extends the saved one: a consistency proof computed from the tiles. Only
 * a proof that does not check says the log forked; tiles that do not hash to the checkpoint (a
 * corrupted cache, a bad server) fail as they do in the entry pass, and an older checkpoint than
 * the saved one as what it most likely is, not as a log that shrank.
 */
async function checkConsistency(
  checkpoint: Checkpoint,
  tree: HashReader,
  saved: Uint8Array,
  logKey: string,
): Promise<number> {
  let old: Checkpoint;
  try {
    old = openCheckpoint(saved, logKey).checkpoint;
  } catch (error) {
    auditError('the saved checkpoint does not verify with the log key', error);
  }
  if (old.size > checkpoint.size)
    throw new CliError(
      'VERIFICATION_FAILED',
      `older checkpoint served (a stale cache or a rollback): size ${checkpoint.size}, where the saved checkpoint has size ${old.size}`,
    );
  const inconsistent = `the log (size ${checkpoint.size}) is not consistent with the saved checkpoint (size ${old.size})`;
  if (old.size === 0) {
    if (!hashEqual(old.hash, EMPTY_TREE_HASH))
      throw new CliError('VERIFICATION_FAILED', inconsistent);
    return 0;
  }
  let proof: Hash[];
  try {
    proof = await proveTree(checkpoint.size, old.size, tree);
  } catch (error) {
    auditError(TILES_NOT_THE_CHECKPOINTS, error);
  }
  try {
    checkTree(proof, checkpoint.size, checkpoint.hash, old.size, old.hash);
  } catch (error) {
    auditError(inconsistent, error);
  }
  return old.size;
}

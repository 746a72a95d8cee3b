import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import type { ServeConfig } from '../config/schema.js';
import { unopenedSecretFile } from '../config/secret-file.js';
import { newEd25519KeySigner, newEd25519Signer, verifierKey } from '../tlog/note.js';
import { LedgerError } from './errors.js';
import { LogReader } from './log-reader.js';
import type { StoredCheckpoint } from './log-store.js';
import { Sequencer } from './sequencer.js';
import type { GrantedOutcome } from '../tsp/authority.js';
import type { IssuanceGuard } from '../tsp/guards.js';
import { reject } from '../tsp/rejection.js';
import { poolConfig, redactUrl } from './connection.js';
import { ledgerEntry } from './entry.js';
import { newReadPool } from './pools.js';
import {
  BUSY_RETRY_MS,
  Ledger,
  LEDGER_BUSY,
  type LedgerLogger,
  type LedgerReceipt,
} from './ledger.js';

/**
 * Connections per process, in three pools, so that none starves another: the commits' (one
 * commit at a time, the probe, the serial number check), the sequencer's (its lock's session),
 * and the public log reads' (bounded: a flood of reads fails fast with BUSY, never the commits).
 */
export const COMMIT_POOL_SIZE = 3;
export const SEQUENCER_POOL_SIZE = 1;
export const READ_POOL_SIZE = 3;

/** The process's --ledger-url: one pool and one group-commit queue shared by every listener. */
export interface ProcessLedger extends AsyncDisposable {
  ledger: Ledger;
  /** The authority's record step: resolves once the token is committed, with its log index. */
  record(granted: GrantedOutcome): Promise<LedgerReceipt>;
  /**
   * Refuses issuance (systemFailure, /readyz red) while the database is unavailable or read-only
   * (temporary: HTTP 503 with Retry-After), while the counter row is behind the ledger or the
   * log's latest checkpoint or commits fail with a definite error, a privilege or the schema (500:
   * it needs a repair), and while the commit queue is full (temporary).
   */
  guard: IssuanceGuard;
  /** The transparency log, with --ledger-key. */
  log?: ProcessLog;
}

export interface ProcessLog {
  origin: string;
  /** The note verifier key: origin+keyid+base64(0x01 || public key). */
  verifierKey: string;
  reader: LogReader;
  sequencer: Sequencer;
  /** --ledger-checkpoint-interval: how long a token may wait for the checkpoint that holds it. */
  checkpointIntervalMs: number;
}

/**
 * Reads --ledger-key: an Ed25519 private key in a PKCS#8 PEM file. Errors quote neither the key
 * nor the value: it is a secret option, and a `pkcs11:` URI that missed the runtime's check (a
 * quote or a space before it, as Docker's --env-file keeps them) is read as a path here, with its
 * pin-value in it. Such a value is refused as what it is.
 */
async function readLogKey(path: string) {
  if (/pkcs11:|pin-value|pin-source/i.test(path)) {
    throw new LedgerError(
      'KEY',
      '--ledger-key holds a PKCS#11 URI that does not start with pkcs11: (quotes or spaces around it?); it is not shown: it may hold a PIN',
    );
  }
  let pem: Buffer;
  try {
    pem = await readFile(path);
  } catch (error) {
    throw new LedgerError('KEY', `reading ${unopenedSecretFile('ledger-key', error)}`);
  }
  let key;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new LedgerError('KEY', 'the --ledger-key file is not a PEM private key (PKCS#8)');
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new LedgerError('KEY', 'the --ledger-key file is not an Ed25519 key');
  }
  return key;
}

/** A log key held elsewhere (a `pkcs11:` --ledger-key): its public key and raw Ed25519 signing. */
export interface LogKeySigner {
  /** For messages; never secret (a PKCS#11 URI without its query). */
  readonly id: string;
  readonly publicKey: KeyObject;
  sign(msg: Uint8Array): Promise<Uint8Array>;
}

/** The checkpoint signer and verifier key of --ledger-key: a PEM file, or a key the runtime opened. */
async function noteKeysFor(config: ServeConfig, held: LogKeySigner | undefined) {
  const origin = config.ledgerOrigin;
  if (held) {
    if (held.publicKey.asymmetricKeyType !== 'ed25519') {
      throw new LedgerError('KEY', `--ledger-key ${held.id} is not an Ed25519 key`);
    }
    return {
      signer: newEd25519KeySigner(origin, held.publicKey, (msg) => held.sign(msg)),
      verifierKey: verifierKey(origin, held.publicKey),
    };
  }
  if (config.ledgerKey === '') return undefined;
  const key = await readLogKey(config.ledgerKey);
  return {
    signer: newEd25519Signer(origin, key),
    verifierKey: verifierKey(origin, createPublicKey(key)),
  };
}

/** A signature line's start: every signed note holds this non-ASCII em dash (U+2014). */
const NOTE_TEXT = '\u2014 ';

/**
 * Refuses a database that would not give a checkpoint note back as it was sent (a text column,
 * converted to and from the server encoding): one without an em dash (LATIN1, EUC_JP) fails
 * every checkpoint, so the log would never publish one. UTF8 passes; so do SQL_ASCII (no
 * conversion) and WIN1252, which give it back unchanged.
 */
async function checkNoteText(pool: pg.Pool): Promise<void> {
  const { rows } = await pool.query<{ encoding: string }>(
    "SELECT current_setting('server_encoding') AS encoding",
  );
  const encoding = rows[0]?.encoding ?? '';
  if (encoding === 'UTF8') return;
  let echoed: string | undefined;
  try {
    echoed = (await pool.query<{ note: string }>('SELECT $1::text AS note', [NOTE_TEXT])).rows[0]
      ?.note;
  } catch (error) {
    // 22P05 untranslatable_character: the encoding has no such character.
    if ((error as { code?: unknown }).code !== '22P05') throw error;
  }
  if (echoed !== NOTE_TEXT) {
    throw new LedgerError(
      'CONFIG',
      `the ledger database's encoding ${encoding} cannot store the log's checkpoint notes ` +
        `unchanged (their signature lines start with U+2014): with --ledger-key, use a UTF8 ` +
        `database (CREATE DATABASE ... ENCODING 'UTF8')`,
    );
  }
}

/** Opens --ledger-url for the process (undefined when it is not set). */
export async function openProcessLedger(
  config: ServeConfig,
  logger: LedgerLogger,
  onCheckpoint?: (checkpoint: StoredCheckpoint) => void,
  logKey?: LogKeySigner,
): Promise<ProcessLedger | undefined> {
  if (config.ledgerUrl === '') return undefined;
  const origin = config.ledgerOrigin;
  // Before connecting: a bad origin (a '+', a space) fails here, holding nothing.
  const noteKeys = await noteKeysFor(config, logKey);
  const settings = await poolConfig(config.ledgerUrl, config.ledgerPasswordFile, COMMIT_POOL_SIZE);
  const ledger = await Ledger.open(settings, logger);
  if (noteKeys) {
    try {
      await checkNoteText(ledger.pool);
    } catch (error) {
      await ledger.close();
      if (error instanceof LedgerError) throw error;
      throw new LedgerError(
        'UNAVAILABLE',
        `cannot prepare the ledger database: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
  }
  logger.info(`issuance ledger: ${redactUrl(config.ledgerUrl)}`);
  let log: ProcessLog | undefined;
  const pools: pg.Pool[] = [];
  if (noteKeys) {
    const sequencerPool = new pg.Pool({ ...settings, max: SEQUENCER_POOL_SIZE });
    sequencerPool.on('error', () => undefined);
    const readPool = newReadPool({ ...settings, max: READ_POOL_SIZE });
    pools.push(sequencerPool, readPool);
    const sequencer = new Sequencer(sequencerPool, {
      signer: noteKeys.signer,
      origin,
      verifierKey: noteKeys.verifierKey,
      intervalMs: config.ledgerCheckpointInterval,
      logger,
      ...(onCheckpoint ? { onCheckpoint } : {}),
    });
    sequencer.start();
    log = {
      origin,
      verifierKey: noteKeys.verifierKey,
      reader: new LogReader(readPool),
      sequencer,
      checkpointIntervalMs: config.ledgerCheckpointInterval,
    };
  }
  return {
    ledger,
    ...(log ? { log } : {}),
    record: (granted) => ledger.record(ledgerEntry(granted, config.defaultPolicyOid)),
    guard: () => {
      const reason = ledger.unavailableReason();
      if (reason) {
        return ledger.unavailableIsTemporary()
          ? reject.unavailable(reason)
          : reject.systemFailure(reason);
      }
      // Tokens signed now would wait behind a full queue only to be refused.
      return ledger.queueFull() ? reject.unavailable(LEDGER_BUSY, BUSY_RETRY_MS) : undefined;
    },
    [Symbol.asyncDispose]: async () => {
      await log?.sequencer.stop();
      await Promise.all(pools.map((pool) => pool.end()));
      await ledger.close();
    },
  };
}

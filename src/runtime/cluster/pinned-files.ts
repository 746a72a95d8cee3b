import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ServeConfig } from '../../config/schema.js';
import { signerConfigFrom, type SignerConfig } from '../../config/signer-config.js';
import { isPkcs11Uri } from '../../signers/pkcs11/pkcs11-uri.js';
import { RuntimeError } from '../runtime-error.js';

/**
 * A file a worker reads while it starts, as the primary read it. The signers, the ledger and the
 * trusted root read their files by path; pinning them by digest keeps every worker, replacements
 * included, on the files the server started with.
 */
export interface PinnedFile {
  /** What names the file, for the log: `--certificate-chain-path`, `profile x: previous-chains`. */
  what: string;
  path: string;
  /** Hex SHA-256 of its bytes; absent when the primary could not read it. */
  sha256?: string;
}

/**
 * The files that decide what a worker signs and serves: signing keys, keysets, chains, previous
 * chains, the ledger key. Not the credentials (passwords, tokens, PINs): a Vault agent rewrites its
 * token in place, and a wrong one fails the start-up anyway. Not the TLS files: the primary sends
 * their bytes.
 */
export function filesToPin(config: ServeConfig): Omit<PinnedFile, 'sha256'>[] {
  const files: Omit<PinnedFile, 'sha256'>[] = [];
  const add = (what: string, path: string) => {
    if (path !== '' && !files.some((file) => file.path === path)) files.push({ what, path });
  };
  const addSigner = (prefix: string, signer: SignerConfig) => {
    if (signer.kind === 'memory') return;
    if (signer.kind === 'file') add(`${prefix}--file-signer-key-path`, signer.keyPath);
    if (signer.kind === 'tink') add(`${prefix}--tink-keyset-path`, signer.keysetPath);
    add(`${prefix}--certificate-chain-path`, signer.certificateChainPath);
  };
  addSigner('', signerConfigFrom(config));
  for (const { path } of config.previousChains ?? []) add('previous-chains', path);
  for (const profile of config.profiles ?? []) {
    addSigner(`profile ${profile.name}: `, profile.signer);
    for (const { path } of profile.previousChains)
      add(`profile ${profile.name}: previous-chains`, path);
  }
  if (config.ledgerUrl !== '' && !isPkcs11Uri(config.ledgerKey))
    add('--ledger-key', config.ledgerKey);
  return files;
}

async function digestOf(path: string): Promise<string | undefined> {
  try {
    return createHash('sha256')
      .update(await readFile(path))
      .digest('hex');
  } catch {
    return undefined;
  }
}

/** The primary's reading of the files its workers will read. */
export async function pinFiles(config: ServeConfig): Promise<PinnedFile[]> {
  return Promise.all(
    filesToPin(config).map(async (file) => {
      const sha256 = await digestOf(file.path);
      return sha256 === undefined ? file : { ...file, sha256 };
    }),
  );
}

/**
 * Run by a worker once it has read its files, before it listens: any that is not as the primary
 * read it refuses the start-up. A file that changes between the worker's read and this check is
 * refused too (its new bytes are seen here), so a worker never serves a file the primary did not.
 */
export async function checkPinnedFiles(pinned: readonly PinnedFile[]): Promise<void> {
  for (const { what, path, sha256 } of pinned) {
    if ((await digestOf(path)) === sha256) continue;
    throw new RuntimeError(
      'FILE_CHANGED',
      `${what} ${path} is not the file the server started with; changing the configuration ` +
        'takes a restart of the whole server',
    );
  }
}

import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Writes a new Ed25519 --ledger-key (PKCS#8 PEM) as `name` in `dir`; returns its path. */
export function writeLedgerKey(dir: string, name: string): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }),
  );
  return path;
}

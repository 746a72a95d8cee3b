import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const SEEDS = join(import.meta.dirname, '..', 'fixtures', 'seeds');

function load(extension: string): Map<string, Buffer> {
  const seeds = new Map<string, Buffer>();
  for (const name of readdirSync(SEEDS).sort()) {
    if (name.endsWith(extension)) seeds.set(name, readFileSync(join(SEEDS, name)));
  }
  return seeds;
}

/** The data every seed's messageImprint hashes (make-seeds.sh). */
export const SEED_DATA = 'hostile input seed\n';

/** TimeStampReq made by `openssl ts -query` (test/fixtures/seeds/make-seeds.sh). */
export const derSeeds = load('.tsq');
/** Go-server JSON requests. */
export const jsonSeeds = load('.json');

/** A request the default server grants (SHA-256, nonce, certReq). */
export function grantableRequest(): Buffer {
  const seed = derSeeds.get('sha256-nonce-cert.tsq');
  if (!seed)
    throw new Error('missing seed sha256-nonce-cert.tsq: run test/fixtures/seeds/make-seeds.sh');
  return seed;
}

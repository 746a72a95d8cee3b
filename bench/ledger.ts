/**
 * Part 9: cost of --ledger-url: granted tokens per second over HTTP with 1 and 2 server processes
 * (dist/, memory signer), without and with the PostgreSQL ledger (a throw-away cluster made with
 * initdb, fsync on) and its transparency log, same run. Runs alternate (without, with, ...); the
 * best of each is kept, to damp a shared machine's noise. The 2-process runs split the
 * connections between two servers sharing the one database. `npm run build` first.
 *   npm run bench -- ledger [--seconds 5] [--repeats 2] [--connections 32]
 */
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ledgerServeFlags, startPostgres } from '../test/helpers/postgres.js';
import { load } from './http.js';
import { startTimestampServer, type BenchProcess } from './processes.js';
import { format } from './stats.js';

async function measure(
  processes: number,
  flags: string[],
  seconds: number,
  connections: number,
): Promise<{ rate: number; errors: number }> {
  const servers: BenchProcess[] = [];
  try {
    for (let i = 0; i < processes; i++) {
      servers.push(await startTimestampServer(['--metrics-port', '0', ...flags]));
    }
    const results = await Promise.all(
      servers.map((server) => load(server.url, seconds, Math.ceil(connections / processes))),
    );
    return {
      rate: results.reduce((sum, r) => sum + r.requestsPerSecond, 0),
      errors: results.reduce((sum, r) => sum + r.errors + r.non2xx, 0),
    };
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }
}

/**
 * The flags of a server whose ledger and transparency log are in `postgres`, signed with a new
 * Ed25519 log key written in its folder.
 */
export function ledgerFlags(postgres: {
  dir: string;
  urlWithoutPassword: string;
  passwordFile: string;
}): string[] {
  const keyPath = join(postgres.dir, 'log-key.pem');
  writeFileSync(
    keyPath,
    generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }),
  );
  return ledgerServeFlags(postgres, keyPath, 'bench.example/log');
}

export async function benchLedger(
  options: { seconds?: number; repeats?: number; connections?: number } = {},
) {
  const seconds = options.seconds ?? 5;
  const repeats = options.repeats ?? 2;
  const connections = options.connections ?? 32;
  const postgres = await startPostgres({ fsync: true });
  const results: { processes: number; without: number; with: number; errors: number }[] = [];
  try {
    const flags = ledgerFlags(postgres);
    for (const processes of [1, 2]) {
      let without = { rate: 0, errors: 0 };
      let withLedger = { rate: 0, errors: 0 };
      for (let i = 0; i < repeats; i++) {
        const a = await measure(processes, [], seconds, connections);
        const b = await measure(processes, flags, seconds, connections);
        if (a.rate > without.rate) without = a;
        if (b.rate > withLedger.rate) withLedger = b;
      }
      console.log(
        `ledger ${processes} process${processes > 1 ? 'es' : ''}, ${connections} connections: ` +
          `${format(without.rate)} tokens/s without, ${format(withLedger.rate)} with --ledger-url ` +
          `(${((withLedger.rate / without.rate) * 100).toFixed(0)}%), errors ${without.errors}/${withLedger.errors}`,
      );
      results.push({
        processes,
        without: without.rate,
        with: withLedger.rate,
        errors: without.errors + withLedger.errors,
      });
    }
  } finally {
    await postgres.destroy();
  }
  return results;
}

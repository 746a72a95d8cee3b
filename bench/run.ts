/**
 * Benchmark suite. `npm run bench` runs every part (about ten minutes, the soak being most of it);
 * `npm run bench -- <part> [options]` runs one. Parts: in-process, signing, sign-cache, http, ping,
 * remote, pkcs11, audit, ledger, log-audit, startup, webcrypto, soak; each file's header lists its
 * options, and `npm run bench -- [part] --help` prints them with their defaults (options.ts).
 * The HTTP parts start dist/ servers: `npm run build` first (they refuse to run while any file
 * under src/ is newer than its dist/ counterpart, or dist/ is missing; --against likewise).
 */
import { benchAuditLog } from './audit-log.js';
import { benchHttp } from './http.js';
import { benchLedger } from './ledger.js';
import { benchLogAudit } from './log-audit.js';
import { benchInProcess } from './in-process.js';
import { benchPingUnderLoad } from './ping-under-load.js';
import { benchPkcs11 } from './pkcs11.js';
import { benchRemote } from './remote.js';
import { benchSignatureCache } from './signature-cache.js';
import { benchSigningStrategies } from './signing-strategies.js';
import { benchSoak } from './soak.js';
import { benchStartup } from './startup.js';
import { benchWebCrypto } from './webcrypto.js';
import { KEY_KINDS, type KeyKind } from './keys.js';
import { StaleBuildError } from './processes.js';
import { parseCommand, PART_OPTIONS, usage, UsageError, type Command } from './options.js';

// The part, when named, comes first; otherwise every part runs. A usage error: one line, status 2.
let command: Command;
try {
  command = parseCommand(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  console.error(`bench: ${error.message}; see npm run bench -- ${part()}--help`);
  process.exit(2);
}
function part(): string {
  const first = process.argv[2];
  return first && PART_OPTIONS[first] ? `${first} ` : '';
}
if (command.help) {
  console.log(usage(command.part));
  process.exit(0);
}
const args = command.args;

/** --server-flags takes the server's flags as one argument with `=` (parseCommand says so). */
function serverFlags(): string[] {
  return args['server-flags']?.split(' ').filter(Boolean) ?? [];
}
const parts: Record<string, () => Promise<unknown>> = {
  'in-process': () =>
    benchInProcess({
      keys: (args['keys']?.split(',') as KeyKind[] | undefined) ?? [...KEY_KINDS],
      seconds: Number(args['seconds'] ?? 1),
      runs: Number(args['runs'] ?? 5),
      concurrency: Number(args['concurrency'] ?? 1),
      ...(args['against'] ? { against: args['against'] } : {}),
    }),
  signing: () =>
    benchSigningStrategies({
      seconds: Number(args['seconds'] ?? 2),
      runs: Number(args['runs'] ?? 3),
      concurrency: Number(args['concurrency'] ?? 8),
    }),
  'sign-cache': async () =>
    benchSignatureCache({
      seconds: Number(args['seconds'] ?? 1),
      runs: Number(args['runs'] ?? 3),
      ...(args['kb'] ? { kb: args['kb'].split(',').map(Number) } : {}),
    }),
  http: () =>
    benchHttp({
      serverFlags: serverFlags(),
      seconds: Number(args['seconds'] ?? 10),
      pairs: Number(args['pairs'] ?? 3),
      connections: Number(args['connections'] ?? 64),
      workers: Number(args['workers'] ?? 1),
      pin: args['no-pin'] === undefined,
      tokenFloor: args['token-floor'] !== undefined,
      turnFloor: args['turn-floor'] !== undefined,
      ...(args['against'] ? { against: args['against'] } : {}),
    }),
  ping: () =>
    benchPingUnderLoad({
      seconds: Number(args['seconds'] ?? 10),
      connections: Number(args['connections'] ?? 50),
      key: (args['key'] as KeyKind | undefined) ?? 'p384',
    }),
  remote: () =>
    benchRemote({
      latencyMs: Number(args['latency-ms'] ?? 20),
      seconds: Number(args['seconds'] ?? 2),
    }),
  pkcs11: () =>
    benchPkcs11({
      sessions: Number(args['sessions'] ?? 4),
      seconds: Number(args['seconds'] ?? 2),
      runs: Number(args['runs'] ?? 3),
      latencyMs: Number(args['latency-ms'] ?? 0),
    }),
  audit: () =>
    benchAuditLog({
      seconds: Number(args['seconds'] ?? 3),
      repeats: Number(args['repeats'] ?? 3),
      ...(args['dir'] ? { dir: args['dir'] } : {}),
    }),
  ledger: () =>
    benchLedger({
      seconds: Number(args['seconds'] ?? 5),
      repeats: Number(args['repeats'] ?? 2),
      connections: Number(args['connections'] ?? 32),
    }),
  'log-audit': () =>
    benchLogAudit({
      entries: Number(args['entries'] ?? 20_000),
      runs: Number(args['runs'] ?? 1),
      certless: Number(args['certless'] ?? 0),
      ...(args['against'] ? { against: args['against'] } : {}),
      ...(args['jobs'] ? { jobs: args['jobs'].split(',').map(Number) } : {}),
    }),
  startup: () => benchStartup({ runs: Number(args['runs'] ?? 5) }),
  webcrypto: () =>
    benchWebCrypto({ seconds: Number(args['seconds'] ?? 1), runs: Number(args['runs'] ?? 5) }),
  soak: () =>
    benchSoak({
      requests: Number(args['requests'] ?? 1_000_000),
      connections: Number(args['connections'] ?? 50),
    }),
};

console.log(
  `node ${process.version}, ${(await import('node:os')).cpus().length} cores, ${(await import('node:os')).cpus()[0]?.model ?? ''}`,
);
const selected = command.part ? [command.part] : Object.keys(parts);
for (const name of selected) {
  const run = parts[name];
  if (!run) throw new Error(`bench: part ${name} has options but no run`);
  try {
    await run();
  } catch (error) {
    // A stale or missing build: its message says what to run, the stack adds nothing.
    if (!(error instanceof StaleBuildError)) throw error;
    console.error(error.message);
    process.exit(1);
  }
}

/**
 * One measured variant of the log-audit bench (bench/log-audit.ts), in a process of its own so that
 * its peak RSS is its own: `node --import tsx bench/log-audit-child.ts <JSON>`. Prints one JSON
 * line: the wall-clock and CPU seconds of the measured work alone (after the imports and, for the
 * floor, the set-up), and the process's peak RSS.
 *
 * Variants: `floor`, N raw verifications (crypto.verify) of the first entry's signature with the
 * TSA's key; `audit`, auditLog() of the log at `url` (with `chain` when given, and `jobs`: its
 * threads checking the tokens), imported from `root`'s src/ (this checkout, or another for
 * --against: a checkout before --jobs ignores it). The CPU seconds are the process's, all its
 * threads.
 */
import { createPublicKey, verify, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseEntryBundle } from '../src/tlog/tile.js';
import { parseTimestampToken } from '../src/verify/parse-response.js';

export interface ChildTask {
  variant: 'floor' | 'audit';
  url: string;
  logKey: string;
  /** the PEM chain, leaf first (the floor takes the leaf's key) */
  chainFile: string;
  /** --chain for the audit */
  withChain: boolean;
  /** the checkout whose auditLog runs */
  root: string;
  entries: number;
  /** log-audit --jobs; absent: its default */
  jobs?: number;
}

export interface ChildResult {
  seconds: number;
  cpuSeconds: number;
  maxRssBytes: number;
}

type AuditLog = (
  base: string,
  options: { logKey?: { key: string }; chain?: string; jobs?: number },
  timeoutMs: number,
) => Promise<{ size: number; tokensUnchecked: number }>;

async function floor(task: ChildTask): Promise<() => unknown> {
  const response = await fetch(
    `${task.url}/api/v1/log/tile/entries/000${task.entries < 256 ? `.p/${task.entries}` : ''}`,
  );
  if (!response.ok) throw new Error(`entry bundle 000: HTTP ${response.status}`);
  const [entry] = parseEntryBundle(new Uint8Array(await response.arrayBuffer()));
  const token = parseTimestampToken(entry!);
  const pem = readFileSync(task.chainFile, 'utf8');
  const leaf = new X509Certificate(pem.slice(0, pem.indexOf('-----END CERTIFICATE-----') + 25));
  const key = createPublicKey(leaf.publicKey.export({ type: 'spki', format: 'pem' }));
  const data = token.signedAttributesDer as Buffer;
  const signature = token.signature;
  const digest = token.timestamp.signer.digestAlgorithm;
  if (!verify(digest, data, key, signature)) throw new Error('the floor signature does not verify');
  return () => {
    for (let i = 0; i < task.entries; i++)
      if (!verify(digest, data, key, signature)) throw new Error('verification failed');
  };
}

async function audit(task: ChildTask): Promise<() => Promise<unknown>> {
  const module = pathToFileURL(resolve(task.root, 'src/cli/timestamp-cli/log-audit-command.ts'));
  const { auditLog } = (await import(module.href)) as { auditLog: AuditLog };
  return async () => {
    const report = await auditLog(
      task.url,
      {
        logKey: { key: task.logKey },
        ...(task.withChain ? { chain: task.chainFile } : {}),
        ...(task.jobs !== undefined ? { jobs: task.jobs } : {}),
      },
      60_000,
    );
    if (report.size !== task.entries)
      throw new Error(`audited ${report.size} entries, want ${task.entries}`);
  };
}

const task = JSON.parse(process.argv[2]!) as ChildTask;
const work = task.variant === 'floor' ? await floor(task) : await audit(task);
const cpu = process.cpuUsage();
const start = performance.now();
await work();
const seconds = (performance.now() - start) / 1000;
const used = process.cpuUsage(cpu);
const result: ChildResult = {
  seconds,
  cpuSeconds: (used.user + used.system) / 1e6,
  maxRssBytes: process.resourceUsage().maxRSS * 1024,
};
console.log(JSON.stringify(result));

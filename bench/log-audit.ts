/**
 * Part 10: `timestamp-cli log-audit` against a real log: a throw-away PostgreSQL cluster, our server
 * (dist/, memory P-256 signer) with --ledger-url and --ledger-key, filled with N tokens issued over
 * HTTP on 127.0.0.1 (the ledger's log: tiles and checkpoints as the server serves them), then
 * auditLog() timed without and with --chain against the floor: N raw verifications (crypto.verify)
 * of a token's signature by the TSA's key, in the same run. Each variant runs in a process of its
 * own (bench/log-audit-child.ts) for its peak RSS; runs alternate (floor, audit, audit --chain,
 * ...), medians reported. `npm run build` first.
 *   npm run bench -- log-audit [--entries 20000] [--runs 1] [--certless 0] [--against ../other]
 *     [--jobs 1,2]
 * --certless F: the share of tokens requested without certReq (they embed no certificate: with
 * --chain their signer comes from the chain file, which then holds the leaf too; without --chain
 * they are counted unchecked). --against also audits with another checkout's src/ (loaded through
 * tsx), in the same alternation. --jobs N,M,...: each audit variant once per value of log-audit's
 * --jobs (threads checking the tokens), in the same alternation; without it, the audit's default
 * (one thread a core).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { startPostgres } from '../test/helpers/postgres.js';
import { encodeRequest } from '../test/helpers/requests.js';
import type { ChildResult, ChildTask } from './log-audit-child.js';
import { ledgerFlags } from './ledger.js';
import { REPO_ROOT, startTimestampServer, type BenchProcess } from './processes.js';
import { format, median } from './stats.js';

const run = promisify(execFile);

export interface LogAuditOptions {
  entries?: number;
  runs?: number;
  certless?: number;
  against?: string;
  /** log-audit --jobs values, each a variant of its own; none: the audit's default */
  jobs?: number[];
}

export interface LogAuditVariant {
  name: string;
  /** medians over the runs */
  seconds: number;
  cpuSeconds: number;
  maxRssBytes: number;
  /** wall-clock seconds over the floor's in the same run (median of the runs' ratios) */
  ratio: number;
  /** the server's CPU seconds during the variant (median) */
  serverCpuSeconds: number;
}

/** Issues `count` tokens over HTTP, `concurrency` at a time. */
async function fill(url: string, count: number, certless: number, concurrency = 32) {
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < count; i = next++) {
      const body = encodeRequest({
        digest: createHash('sha256').update(`artifact ${i}`).digest(),
        nonce: BigInt(i + 1),
        // Spread evenly: token i is certless when the running share passes a whole number.
        certReq: Math.floor((i + 1) * certless) === Math.floor(i * certless),
      });
      const response = await fetch(`${url}/api/v1/timestamp`, {
        method: 'POST',
        headers: { 'content-type': 'application/timestamp-query' },
        body,
      });
      await response.arrayBuffer();
      if (response.status !== 200) throw new Error(`token ${i}: HTTP ${response.status}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** Waits until the log's checkpoint covers `size` entries. */
async function waitForCheckpoint(url: string, size: number): Promise<void> {
  for (const deadline = Date.now() + 120_000; Date.now() < deadline;) {
    const response = await fetch(`${url}/api/v1/log/checkpoint`);
    const text = await response.text();
    if (response.ok && Number(text.split('\n')[1]) >= size) return;
    await new Promise((done) => setTimeout(done, 200));
  }
  throw new Error(`the log's checkpoint did not reach ${size} entries`);
}

async function child(task: ChildTask): Promise<ChildResult> {
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', 'bench/log-audit-child.ts', JSON.stringify(task)],
    { cwd: REPO_ROOT, maxBuffer: 1 << 20, timeout: 3_600_000 },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as ChildResult;
}

export async function benchLogAudit(options: LogAuditOptions = {}): Promise<LogAuditVariant[]> {
  const entries = options.entries ?? 20_000;
  const runs = options.runs ?? 1;
  const certless = options.certless ?? 0;
  const postgres = await startPostgres();
  let server: BenchProcess | undefined;
  try {
    server = await startTimestampServer([
      '--metrics-port',
      '0',
      ...ledgerFlags(postgres),
      '--ledger-checkpoint-interval',
      '100ms',
      // No anchor tokens of the TSA's own: the log holds the N entries and stays that size.
      '--ledger-anchor-interval',
      '0',
    ]);
    const url = server.url;
    const filling = performance.now();
    await fill(url, entries, certless);
    await waitForCheckpoint(url, entries);
    console.log(
      `log-audit: ${format(entries)} tokens issued and logged in ${((performance.now() - filling) / 1000).toFixed(1)} s (${format(certless * 100)} % without certReq)`,
    );
    const logKey = (await (await fetch(`${url}/api/v1/log/key`)).text()).trim();
    // The served chain is leaf, intermediate, root: what --chain wants, the leaf included, so that
    // tokens without certReq can be checked too.
    const chainFile = join(postgres.dir, 'chain.pem');
    writeFileSync(chainFile, await (await fetch(`${url}/api/v1/timestamp/certchain`)).text());

    const task = (
      variant: ChildTask['variant'],
      withChain: boolean,
      root = REPO_ROOT,
      jobs?: number,
    ): ChildTask => ({
      variant,
      url,
      logKey,
      chainFile,
      withChain,
      root,
      entries,
      ...(jobs !== undefined ? { jobs } : {}),
    });
    const variants: [string, ChildTask][] = [];
    for (const jobs of options.jobs ?? [undefined]) {
      const suffix = jobs === undefined ? '' : ` --jobs ${jobs}`;
      variants.push([`audit${suffix}`, task('audit', false, REPO_ROOT, jobs)]);
      variants.push([`audit --chain${suffix}`, task('audit', true, REPO_ROOT, jobs)]);
      if (options.against) {
        const other = resolve(options.against);
        variants.push([`against: audit${suffix}`, task('audit', false, other, jobs)]);
        variants.push([`against: audit --chain${suffix}`, task('audit', true, other, jobs)]);
      }
    }
    const floors: ChildResult[] = [];
    const measured = new Map<string, { result: ChildResult; ratio: number; server: number }[]>();
    for (let i = 0; i < runs; i++) {
      const floor = await child(task('floor', false));
      floors.push(floor);
      for (const [name, variantTask] of variants) {
        const serverCpu = server.cpuSeconds();
        const result = await child(variantTask);
        const list = measured.get(name) ?? [];
        list.push({
          result,
          ratio: result.seconds / floor.seconds,
          server: server.cpuSeconds() - serverCpu,
        });
        measured.set(name, list);
      }
    }
    const floorSeconds = median(floors.map((f) => f.seconds));
    console.log(
      `log-audit floor: ${format(entries)} raw verifications in ${floorSeconds.toFixed(2)} s (${format(entries / floorSeconds)}/s)`,
    );
    const results: LogAuditVariant[] = [];
    for (const [name, list] of measured) {
      const variant: LogAuditVariant = {
        name,
        seconds: median(list.map((m) => m.result.seconds)),
        cpuSeconds: median(list.map((m) => m.result.cpuSeconds)),
        maxRssBytes: median(list.map((m) => m.result.maxRssBytes)),
        ratio: median(list.map((m) => m.ratio)),
        serverCpuSeconds: median(list.map((m) => m.server)),
      };
      results.push(variant);
      console.log(
        `log-audit ${name.padEnd(32)}: ${variant.seconds.toFixed(2)} s (${format(entries / variant.seconds)} entries/s, ` +
          `${variant.ratio.toFixed(1)} × the floor), CPU ${variant.cpuSeconds.toFixed(2)} s, ` +
          `server CPU ${variant.serverCpuSeconds.toFixed(2)} s, peak RSS ${format(variant.maxRssBytes / 2 ** 20)} MiB`,
      );
    }
    return results;
  } finally {
    await server?.stop();
    await postgres.destroy();
  }
}

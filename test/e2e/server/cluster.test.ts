import { spawnSync } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { checkMetrics } from '../../helpers/promtool.js';
import { openssl, tempDir } from '../../helpers/openssl.js';
import { OpensslPki } from '../../helpers/openssl-pki.js';
import {
  runCli,
  spawnServer,
  type SpawnedServer,
  MISSING_FILE_SIGNER,
} from '../../helpers/spawn-server.js';
import { listenerClosed, splitRequest } from '../../helpers/split-request.js';
import { answer, SntpResponder } from '../../helpers/sntp-responder.js';
import { helloTimeStampReq } from '../../loadtest/request.js';
import { decodeResponse, dotted } from '../../helpers/decode.js';
import { selfSignedTls } from '../../fakes/tls.js';
import { opensslTsVerify } from '../../helpers/timestamp-roundtrip.js';
import { waitUntil } from '../../helpers/poll.js';
import { HELD_DEADLINE_MS, heldTimerEnvironment } from '../../helpers/held-timer.js';

interface Answer {
  status: number;
  body: Buffer;
}

/**
 * One request on a connection of its own: node:cluster hands each new connection to the next
 * worker (round robin), so consecutive calls reach every worker.
 */
function call(
  url: string,
  path: string,
  options: { method?: string; body?: Buffer; type?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      `${url}${path}`,
      {
        method: options.method ?? 'GET',
        agent: false,
        headers: {
          accept: '*/*',
          ...(options.type ? { 'content-type': options.type } : {}),
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks) }),
        );
        response.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    outgoing.end(options.body);
  });
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function cluster(args: string[], env: NodeJS.ProcessEnv = {}): Promise<SpawnedServer> {
  const server = await spawnServer(['--workers', '2', ...args], env);
  cleanups.push(() => server.stop());
  // The primary's "serving" line may be read before a worker's own lines (each process's log
  // writer flushes on its own): once both workers' are, the tests know their pids.
  await untilLogged(
    server,
    (line) => line.worker !== undefined && SERVING.test(line.message ?? ''),
    2,
  );
  return server;
}

/** A worker's announcement that it serves (runtime/serve.ts). */
const SERVING = /^worker \d+ serving timestamps/;

/**
 * `count` timestamp requests in flight, their bodies half sent, on both workers: one ping each
 * after them, so each worker has been handed its share of the connections before them.
 */
async function inFlight(server: SpawnedServer, count: number) {
  const burst = Array.from({ length: count }, () => splitRequest(server.url));
  await Promise.all(burst.map((request) => request.sendFirstPart()));
  expect((await call(server.url, '/ping')).status).toBe(200);
  expect((await call(server.url, '/ping')).status).toBe(200);
  return burst;
}

/** The pids of the workers that have logged, each once, in the order they first did. */
const workerPids = (server: SpawnedServer) => [
  ...new Set(logLines(server).flatMap((line) => (line.worker ? [line.pid] : []))),
];

/** Sends the rest of each request's body; the statuses of their answers. */
async function finish(burst: Awaited<ReturnType<typeof inFlight>>): Promise<number[]> {
  burst.forEach((request) => request.sendRest());
  const responses = await Promise.all(burst.map((request) => request.response));
  return responses.map((response) => response.status);
}

interface LogLine {
  message?: string;
  severity?: string;
  pid?: number;
  worker?: number;
  /** The primary's lines about a worker: that worker's pid (its own `pid` is not the worker's). */
  workerPid?: number;
  statusCode?: number;
  url?: string;
}

/**
 * The worker the primary forks to replace a dead one (a child of `primary` not among `workers`),
 * stopped (SIGSTOP) as soon as it runs Node, long before it says hello; SIGCONT at the test's end
 * (a worker ends with its primary's IPC channel). Not before its exec (its environment then has cluster's NODE_UNIQUE_ID): between fork
 * and exec, libuv's spawn holds the primary's event loop until the exec, so stopping the child
 * there stopped the primary too (a test hung until its timeout, once, on a loaded machine).
 */
async function stoppedReplacement(
  primary: number,
  workers: ReadonlySet<number | undefined>,
): Promise<number> {
  for (;;) {
    const forked = spawnSync('ps', ['-o', 'pid=', '--ppid', String(primary)], { encoding: 'utf8' })
      .stdout.split('\n')
      .map(Number)
      .find((pid) => pid > 0 && !workers.has(pid));
    if (forked !== undefined && execed(forked)) {
      process.kill(forked, 'SIGSTOP');
      cleanups.push(() => {
        try {
          process.kill(forked, 'SIGCONT');
        } catch {
          // gone already
        }
      });
      return forked;
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Whether a forked cluster worker has exec'd Node (false once it is gone). */
function execed(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'latin1').includes('\0NODE_UNIQUE_ID=');
  } catch {
    return false;
  }
}

const logLines = (server: SpawnedServer): LogLine[] =>
  server.lines.map((line) => JSON.parse(line) as LogLine);

/** The worker pids that logged a finished request to `url` with `status`. */
const pidsAnswering = (server: SpawnedServer, url: string, status: number) =>
  new Set(
    logLines(server)
      .filter((line) => line.url === url && line.statusCode === status && line.pid)
      .map((line) => line.pid),
  );

/** Log lines are written as requests finish; wait until `count` of them are read. */
async function untilLogged(
  server: SpawnedServer,
  predicate: (line: LogLine) => boolean,
  count = 1,
) {
  // A server that exited meanwhile fails the test at once, with its output, not at the timeout
  // ('close': its last lines are read by then).
  let exit: { code: number | null } | undefined;
  void server.exited.then((code) => (exit = { code }));
  await waitUntil(() => {
    if (logLines(server).filter(predicate).length >= count) return true;
    if (exit)
      throw new Error(
        `the server exited (${exit.code}) before the awaited line:\n${server.stderr()}`,
      );
    return false;
  }, 20);
}

/** openssl's own query (certReq), the reply from the cluster, verified against the served chain. */
async function timestampAndVerify(url: string, root: string, untrusted: string, n: number) {
  const work = tempDir();
  cleanups.push(() => work.cleanup());
  const data = work.write('data.txt', `artifact ${n}`);
  const query = work.path('query.tsq');
  await openssl(['ts', '-query', '-data', data, '-sha256', '-cert', '-out', query]);
  const reply = await call(url, '/api/v1/timestamp', {
    method: 'POST',
    body: readFileSync(query),
    type: 'application/timestamp-query',
  });
  expect(reply.status).toBe(200);
  const replyPath = work.write('reply.tsr', reply.body);
  return opensslTsVerify(replyPath, { queryfile: query }, { root, untrusted });
}

const sample = (text: string, name: string, labels = '') =>
  new RegExp(
    `^${name}${labels ? `\\{${labels.replace(/[/.]/g, '\\$&')}\\}` : ''} ([0-9.e+-]+)$`,
    'm',
  ).exec(text)?.[1];

describe('--workers 2 (node:cluster)', () => {
  it('every worker serves the one chain and key; tokens verify; /metrics sums the workers', async () => {
    const server = await cluster([]);
    const chains = await Promise.all(
      Array.from({ length: 6 }, () => call(server.url, '/api/v1/timestamp/certchain')),
    );
    const pem = chains[0]?.body.toString() ?? '';
    expect(pem).toMatch(/^-----BEGIN CERTIFICATE-----/);
    for (const chain of chains) expect(chain.body.toString()).toBe(pem);
    await untilLogged(server, (line) => line.url === '/api/v1/timestamp/certchain', 6);
    expect(pidsAnswering(server, '/api/v1/timestamp/certchain', 200).size).toBe(2);

    const pems = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/g);
    expect(pems).toHaveLength(3);
    const files = tempDir();
    cleanups.push(() => files.cleanup());
    const root = files.write('root.pem', pems?.[2] ?? '');
    const untrusted = files.write('untrusted.pem', (pems ?? []).slice(0, 2).join(''));
    const tokens = 8;
    for (let n = 0; n < tokens; n++) {
      expect(await timestampAndVerify(server.url, root, untrusted, n)).toContain(
        'Verification: OK',
      );
    }
    await untilLogged(server, (line) => line.url === '/api/v1/timestamp', tokens);
    const issuers = pidsAnswering(server, '/api/v1/timestamp', 200);
    expect(issuers.size).toBe(2);
    // Workers, not the primary: the primary logs no requests.
    const workers = new Set(workerPids(server));
    expect([...issuers].every((pid) => workers.has(pid))).toBe(true);
    expect(workers.has(server.child.pid)).toBe(false);

    const text = await (await fetch(server.metricsUrl)).text();
    const { status, problems } = checkMetrics(text);
    expect(problems).toEqual([]);
    expect([0, 3]).toContain(status);
    expect(
      sample(
        text,
        'timestamp_authority_http_requests_total',
        'code="200",path="/api/v1/timestamp",method="POST"',
      ),
    ).toBe(String(tokens));
    expect(
      sample(text, 'timestamp_authority_issuance_total', 'outcome="granted",fail_info="none"'),
    ).toBe(String(tokens));
    expect(
      sample(
        text,
        'timestamp_authority_api_latency_summary_count',
        'path="/api/v1/timestamp",code="200"',
      ),
    ).toBe(String(tokens));
    // Gauges are not summed: the same facts once, the chain valid, nine years left (not eighteen).
    expect(text).toMatch(/^timestamp_authority_build_info\{.*\} 1$/m);
    expect(sample(text, 'timestamp_authority_certificate_chain_valid')).toBe('1');
    const days = Number(sample(text, 'timestamp_authority_certificate_valid_days_remaining'));
    expect(days).toBeGreaterThan(9 * 365 - 2);
    expect(days).toBeLessThan(9 * 365 + 3);
    expect(text).toMatch(/^nodejs_version_info\{.*\} 1$/m);
  });

  it('replaces a worker that dies, with the same key and chain; /metrics sums never go down', async () => {
    const server = await cluster([]);
    const certchains = async () =>
      Number(
        sample(
          await (await fetch(server.metricsUrl)).text(),
          'timestamp_authority_http_requests_total',
          'code="200",path="/api/v1/timestamp/certchain",method="GET"',
        ),
      );
    const before = (await call(server.url, '/api/v1/timestamp/certchain')).body.toString();
    // Both workers answer some, so the victim's share is in the sum scraped before it dies.
    await Promise.all(
      Array.from({ length: 5 }, () => call(server.url, '/api/v1/timestamp/certchain')),
    );
    await untilLogged(server, (line) => line.url === '/api/v1/timestamp/certchain', 6);
    expect(pidsAnswering(server, '/api/v1/timestamp/certchain', 200).size).toBe(2);
    expect(await certchains()).toBe(6);
    const exits = async () =>
      sample(
        await (await fetch(server.metricsUrl)).text(),
        'timestamp_authority_cluster_worker_exits_total',
      );
    expect(await exits()).toBe('0');
    const victim = logLines(server).find((line) => line.worker === 1)?.pid;
    expect(victim).toBeDefined();
    process.kill(victim ?? 0, 'SIGKILL');
    // Scrapes while the replacement loads are answered from the workers that can answer.
    const replaced = (line: LogLine) => /^worker \d+ replaced$/.test(line.message ?? '');
    while (!logLines(server).some(replaced)) {
      const scrape = await fetch(server.metricsUrl);
      expect(scrape.status).toBe(200);
      expect(await scrape.text()).toContain('timestamp_authority_http_requests_total');
    }
    expect(
      logLines(server).some((line) =>
        line.message?.startsWith(`worker 1 (pid ${victim}) exited with signal SIGKILL`),
      ),
    ).toBe(true);
    const killedAt = server.lines.length;
    const after = await Promise.all(
      Array.from({ length: 4 }, () => call(server.url, '/api/v1/timestamp/certchain')),
    );
    for (const chain of after) expect(chain.body.toString()).toBe(before);
    const answeredAfter = () =>
      logLines({ ...server, lines: server.lines.slice(killedAt) }).filter(
        (line) => line.url === '/api/v1/timestamp/certchain',
      );
    while (answeredAfter().length < 4) await new Promise((resolve) => setTimeout(resolve, 20));
    const answering = new Set(answeredAfter().map((line) => line.pid));
    expect(answering.size).toBe(2);
    expect(answering.has(victim)).toBe(false);
    // The dead worker's counts, as last scraped, are still in the sum (else Prometheus would read
    // the drop as a reset and count the other worker's whole total again).
    expect(await certchains()).toBe(10);
    expect(await exits()).toBe('1');
  });

  it("a replacement serves the primary's configuration, not the config file as edited since", async () => {
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const config = dir.write('tsa.yaml', 'disable-ntp-monitoring: true\n');
    const server = await cluster(['--config', config]);
    // A ConfigMap update lands in place; nobody restarted the server.
    writeFileSync(
      config,
      [
        'disable-ntp-monitoring: true',
        'use-http-201: true',
        'default-policy-oid: 1.2.3.4.5',
        'accepted-policy-oids: [1.2.3.4.5]',
        '',
      ].join('\n'),
    );
    const victim = logLines(server).find((line) => line.worker === 1)?.pid;
    process.kill(victim ?? 0, 'SIGKILL');
    await untilLogged(server, (line) => /^worker \d+ replaced$/.test(line.message ?? ''));
    const answers = await Promise.all(
      Array.from({ length: 4 }, () =>
        call(server.url, '/api/v1/timestamp', {
          method: 'POST',
          body: helloTimeStampReq(),
          type: 'application/timestamp-query',
        }),
      ),
    );
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200]);
    const policies = answers.map((answer) => dotted(decodeResponse(answer.body).tstInfo!.policy));
    expect(new Set(policies)).toEqual(new Set(['1.3.6.1.4.1.57264.2']));
    // Both workers answered, the replacement among them (the only timestamps of this server).
    await untilLogged(server, (line) => line.url === '/api/v1/timestamp', 4);
    const answering = pidsAnswering(server, '/api/v1/timestamp', 200);
    expect(answering.size).toBe(2);
    expect(answering.has(victim)).toBe(false);
  });

  it('a replacement that reads another key or chain than the primary did refuses to serve', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const pki = new OpensslPki(dir.dir);
    const chain = await pki.standardChain();
    const key = dir.path('leaf.key');
    const server = await cluster([
      '--timestamp-signer',
      'file',
      '--file-signer-key-path',
      key,
      '--certificate-chain-path',
      chain,
    ]);
    const before = (await call(server.url, '/api/v1/timestamp/certchain')).body.toString();
    // A Secret update lands in place: another key and its chain.
    const newChain = await pki.standardChain('new-');
    writeFileSync(key, readFileSync(dir.path('new-leaf.key')));
    writeFileSync(chain, readFileSync(newChain));
    const victim = logLines(server).find((line) => line.worker === 1)?.pid;
    process.kill(victim ?? 0, 'SIGKILL');
    const refused = (line: LogLine) =>
      line.severity === 'FATAL' &&
      line.worker !== undefined &&
      (line.message ?? '').includes('is not the file the server started with');
    const replaced = (line: LogLine) => /^worker \d+ replaced$/.test(line.message ?? '');
    // Whichever comes first: the replacement refusing, or serving what it read.
    await Promise.race([untilLogged(server, refused), untilLogged(server, replaced)]);
    expect(logLines(server).find(refused)?.message).toMatch(
      /^cannot start: --file-signer-key-path .*leaf\.key is not the file the server started with/,
    );
    expect(logLines(server).some(replaced)).toBe(false);
    const after = await Promise.all(
      Array.from({ length: 4 }, () => call(server.url, '/api/v1/timestamp/certchain')),
    );
    for (const answer of after) expect(answer.body.toString()).toBe(before);
  });

  it("a replacement serves the primary's TLS certificate, not the files as rewritten since", async () => {
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const first = selfSignedTls();
    const cert = dir.write('tls.crt', first.cert);
    const key = dir.write('tls.key', first.key);
    const server = await cluster(['--tls-certificate', cert, '--tls-key', key, '--tls-port', '0']);
    // cert-manager renews the certificate in place; nobody restarted the server.
    const renewed = selfSignedTls();
    writeFileSync(cert, renewed.cert);
    writeFileSync(key, renewed.key);
    const victim = logLines(server).find((line) => line.worker === 1)?.pid;
    process.kill(victim ?? 0, 'SIGKILL');
    await untilLogged(server, (line) => /^worker \d+ replaced$/.test(line.message ?? ''));
    /** The certificate one HTTPS request (a connection of its own) was shown. */
    const shown = () =>
      new Promise<string>((resolve, reject) => {
        const outgoing = httpsRequest(
          `${server.tlsUrl}/api/v1/timestamp/certchain`,
          { agent: false, rejectUnauthorized: false },
          (response) => {
            const { fingerprint256 } = (response.socket as TLSSocket).getPeerCertificate();
            response.resume();
            response.on('end', () => resolve(fingerprint256));
          },
        );
        outgoing.on('error', reject);
        outgoing.end();
      });
    const fingerprints = await Promise.all(Array.from({ length: 4 }, shown));
    expect(new Set(fingerprints)).toEqual(
      new Set([new X509Certificate(first.cert).fingerprint256]),
    );
    await untilLogged(server, (line) => line.url === '/api/v1/timestamp/certchain', 4);
    const answering = pidsAnswering(server, '/api/v1/timestamp/certchain', 200);
    expect(answering.size).toBe(2);
    expect(answering.has(victim)).toBe(false);
  });

  it("a worker's command line is `serve` alone: no flag, so no secret given as one", async () => {
    const secret = `fake-secret-${randomBytes(12).toString('hex')}`;
    const server = await cluster(['--file-signer-passwd', secret, '--tink-hcvault-token', secret]);
    const cmdline = (pid: number | undefined) =>
      readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    expect(cmdline(server.child.pid)).toContain(secret);
    const workers = new Set(workerPids(server));
    expect(workers.size).toBe(2);
    for (const pid of workers) {
      expect(cmdline(pid).at(-1)).toBe('serve');
      expect(cmdline(pid).join(' ')).not.toContain(secret);
    }
  });

  it('SIGTERM drains both workers: in-flight requests all answered, exit 0', async () => {
    const server = await cluster([]);
    const burst = await inFlight(server, 20);

    server.child.kill('SIGTERM');
    await listenerClosed(server.url);
    expect(await finish(burst)).toEqual(burst.map(() => 200));
    expect(await server.exited).toBe(0);
    expect(pidsAnswering(server, '/api/v1/timestamp', 200).size).toBe(2);
    const drained = logLines(server).filter(
      (line) => line.message === 'asked by the primary, draining',
    );
    expect(drained).toHaveLength(2);
    expect(logLines(server).some((line) => line.message === 'shut down')).toBe(true);
  });

  for (const defaultSigner of ['memory', 'file'] as const) {
    it(`${defaultSigner} default, memory profile x: every worker serves one chain per profile, x its own`, async () => {
      const dir = tempDir();
      cleanups.push(() => dir.cleanup());
      let signer = ['timestamp-signer: memory'];
      if (defaultSigner === 'file') {
        const chain = await new OpensslPki(dir.dir).standardChain();
        signer = [
          'timestamp-signer: file',
          `file-signer-key-path: ${dir.path('leaf.key')}`,
          `certificate-chain-path: ${chain}`,
        ];
      }
      const config = dir.write(
        'tsa.yaml',
        [
          ...signer,
          'profiles:',
          '  - name: x',
          '    policy-oids: [1.2.3.4.200]',
          '    timestamp-signer: memory',
          '',
        ].join('\n'),
      );
      const server = await cluster(['--config', config]);
      /** The distinct chains four connections (two per worker) were given. */
      const chains = async (path: string) => {
        const answers = await Promise.all(Array.from({ length: 4 }, () => call(server.url, path)));
        expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200]);
        await untilLogged(server, (line) => line.url === path, 4);
        expect(pidsAnswering(server, path, 200).size).toBe(2);
        return new Set(answers.map((answer) => answer.body.toString()));
      };
      const defaults = await chains('/api/v1/timestamp/certchain');
      const xs = await chains('/api/v1/timestamp/x/certchain');
      expect(defaults.size).toBe(1);
      expect(xs.size).toBe(1);
      expect([...xs][0]).not.toBe([...defaults][0]);
    });
  }

  it('a worker signalled twice (Ctrl-C twice reaches the group) finishes its drain', async () => {
    const server = await cluster([]);
    const workers = workerPids(server);
    expect(workers).toHaveLength(2);
    const burst = await inFlight(server, 2);

    for (const pid of workers) process.kill(pid ?? 0, 'SIGINT');
    await untilLogged(server, (line) => line.message === 'received SIGINT, draining', 2);
    for (const pid of workers) process.kill(pid ?? 0, 'SIGINT');
    // Whichever comes first: a worker ended by the second signal, or both saying they wait.
    const killed = (line: LogLine) => /exited with signal SIGINT/.test(line.message ?? '');
    const waits = (line: LogLine) =>
      line.message === 'received SIGINT, a drain is already under way: waiting for it to end';
    const first = await Promise.race([
      untilLogged(server, killed).then(() => 'killed'),
      untilLogged(server, waits, 2).then(() => 'waits'),
    ]);
    expect(first).toBe('waits');
    expect(await finish(burst)).toEqual([200, 200]);
  });

  it('the primary NTP monitor gates every worker: drifted refuses everywhere, synced issues again', async () => {
    const responder = await SntpResponder.start(answer());
    cleanups.push(() => responder.close());
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const ntp = dir.path('ntp.yaml');
    writeFileSync(
      ntp,
      [
        'request_attempts: 1',
        'request_timeout: 1',
        'num_servers: 1',
        'server_threshold: 1',
        'max_time_delta: 2',
        'period: 1',
        'servers:',
        `  - "127.0.0.1:${responder.address.port}"`,
      ].join('\n'),
    );
    const server = await cluster(['--ntp-monitoring', ntp], { DISABLE_NTP_MONITORING: 'false' });
    const data = dir.write('data.txt', 'clock');
    const query = dir.path('query.tsq');
    await openssl(['ts', '-query', '-data', data, '-sha256', '-out', query]);
    const timestamp = () =>
      call(server.url, '/api/v1/timestamp', {
        method: 'POST',
        body: readFileSync(query),
        type: 'application/timestamp-query',
      });
    /** Four requests on four connections: two per worker. */
    const everywhere = async (path: 'timestamp' | 'readyz') =>
      (
        await Promise.all(
          Array.from({ length: 4 }, () =>
            path === 'timestamp' ? timestamp() : call(server.url, '/readyz'),
          ),
        )
      ).map((answer) => answer.status);
    const until = async (path: 'timestamp' | 'readyz', status: number) => {
      while (!(await everywhere(path)).every((each) => each === status)) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };

    await until('timestamp', 200);
    responder.behaviour = answer({ offsetMs: 30_000 });
    await until('timestamp', 503);
    expect(await everywhere('readyz')).toEqual([503, 503, 503, 503]);
    const refused = await timestamp();
    const reply = dir.write('reply.tsr', refused.body);
    const text = await openssl(['ts', '-reply', '-in', reply, '-text']);
    expect(text).toContain("the TSA's time source is not available");
    expect(text).toContain('clock drifted');
    await untilLogged(server, (line) => line.statusCode === 503, 5);
    expect(pidsAnswering(server, '/api/v1/timestamp', 503).size).toBe(2);
    const readyz = await call(server.url, '/readyz');
    expect(readyz.body.toString()).toMatch(/^clock drifted: /);

    responder.behaviour = answer();
    await until('timestamp', 200);
    expect(await everywhere('readyz')).toEqual([200, 200, 200, 200]);
    const metrics = await (await fetch(server.metricsUrl)).text();
    expect(sample(metrics, 'timestamp_authority_clock_state', 'state="synced"')).toBe('1');
    expect(
      Number(sample(metrics, 'timestamp_authority_ntp_errors_total', 'reason="err_inv_time"')),
    ).toBeGreaterThan(0);
  });

  it('--audit-log: each worker slot writes its own file, a replacement continues its slot, SIGHUP reopens each', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const path = dir.path('audit.jsonl');
    const slot = (n: number, suffix = '') => dir.path(`audit.worker-${n}.jsonl${suffix}`);
    const server = await cluster(['--audit-log', path]);
    const timestamps = (count: number) =>
      Promise.all(
        Array.from({ length: count }, () =>
          call(server.url, '/api/v1/timestamp', {
            method: 'POST',
            body: helloTimeStampReq(),
            type: 'application/timestamp-query',
          }),
        ),
      );
    const lines = (file: string) =>
      existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
    expect((await timestamps(4)).map((answer) => answer.status)).toEqual([200, 200, 200, 200]);
    // A worker logs a request once its response is sent: the client can be faster than the line.
    await untilLogged(server, (line) => line.url === '/api/v1/timestamp', 4);
    expect(pidsAnswering(server, '/api/v1/timestamp', 200).size).toBe(2);
    // Both slots answered, each into its own file; the configured path itself is never written.
    expect(lines(slot(1)).length).toBeGreaterThan(0);
    expect(lines(slot(2)).length).toBeGreaterThan(0);
    expect(lines(slot(1)).length + lines(slot(2)).length).toBe(4);
    expect(existsSync(path)).toBe(false);

    renameSync(slot(1), slot(1, '.1'));
    renameSync(slot(2), slot(2, '.1'));
    server.child.kill('SIGHUP');
    await untilLogged(server, (line) => line.message === 'audit log reopened', 2);
    expect((await timestamps(4)).map((answer) => answer.status)).toEqual([200, 200, 200, 200]);
    expect(lines(slot(1, '.1')).length + lines(slot(2, '.1')).length).toBe(4);
    expect(lines(slot(1)).length + lines(slot(2)).length).toBe(4);

    // Slot 1's worker dies; its replacement appends to slot 1's file, no third file appears.
    const victim = logLines(server).find((line) => line.worker === 1)?.pid;
    process.kill(victim ?? 0, 'SIGKILL');
    await untilLogged(server, (line) => /^worker \d+ replaced$/.test(line.message ?? ''));
    // Counted in the files, not the request log: the killed worker's last log lines may be lost.
    const slot1Before = lines(slot(1)).length;
    let sent = 0;
    while (lines(slot(1)).length === slot1Before) {
      expect((await timestamps(2)).map((answer) => answer.status)).toEqual([200, 200]);
      sent += 2;
    }
    expect(lines(slot(1)).length + lines(slot(2)).length).toBe(4 + sent);
    expect(existsSync(dir.path('audit.worker-3.jsonl'))).toBe(false);
    for (const file of [slot(1), slot(2), slot(1, '.1'), slot(2, '.1')])
      for (const line of lines(file)) JSON.parse(line);
    expect(server.child.exitCode).toBeNull();
  });

  it('SIGTERM just after a worker died: its replacement, still loading, ends at once (no kill at the deadline)', async () => {
    const server = await cluster(['--graceful-timeout', '10s']);
    const primary = server.child.pid ?? 0;
    const workers = new Set(workerPids(server));
    expect(workers.size).toBe(2);
    const [victim, survivor] = [...workers];
    process.kill(victim ?? 0, 'SIGKILL');
    const replacement = await stoppedReplacement(primary, workers);

    server.child.kill('SIGTERM');
    // The survivor drains on the primary's word; the replacement's signal was sent in that turn.
    await untilLogged(
      server,
      (line) => line.pid === survivor && line.message === 'asked by the primary, draining',
    );
    try {
      process.kill(replacement, 'SIGCONT');
    } catch (error) {
      // Gone already (seen once, under load, in CI): how it ended is checked below.
      expect((error as NodeJS.ErrnoException).code).toBe('ESRCH');
    }
    expect(await server.exited).toBe(0);
    const messages = logLines(server).map((line) => line.message ?? '');
    expect(messages.filter((message) => message.endsWith('killing it'))).toEqual([]);
    expect(messages).toContainEqual(
      expect.stringMatching(
        new RegExp(
          `^worker \\d+ \\(pid ${replacement}\\) was not serving; exited with (signal SIGTERM|code 0)$`,
        ),
      ),
    );
    // It never served: no setup reached it, so it logged nothing of its own.
    expect(logLines(server).some((line) => line.pid === replacement && line.worker)).toBe(false);
    expect(messages).toContain('shut down');
  });

  it('a worker killed at the drain deadline fails the shutdown: exit 1', async () => {
    // The primary kills a worker still draining 15 s (supervisor.ts EXIT_GRACE_MS) after
    // --graceful-timeout: set so, that deadline is HELD_DEADLINE_MS, and held (in the primary and
    // its workers) until the other worker has drained and exited, however long a busy machine
    // takes for that; then it fires, for the stuck worker.
    const deadline = heldTimerEnvironment(HELD_DEADLINE_MS);
    const server = await cluster(
      ['--graceful-timeout', `${HELD_DEADLINE_MS - 15_000}ms`],
      deadline.env,
    );
    const [stuck] = new Set(workerPids(server));
    process.kill(stuck ?? 0, 'SIGSTOP');
    cleanups.push(() => {
      try {
        process.kill(stuck ?? 0, 'SIGKILL');
      } catch {
        // killed by the primary, as it should be
      }
    });
    server.child.kill('SIGTERM');
    await untilLogged(server, (line) =>
      /^worker \d+ \(pid \d+\) drained and exited$/.test(line.message ?? ''),
    );
    // One deadline for each worker, the drained one's cleared.
    expect(deadline.count()).toBe(2);
    deadline.release();
    expect(await server.exited).toBe(1);
    const messages = logLines(server).map((line) => line.message ?? '');
    expect(messages.filter((message) => message.endsWith('; killing it'))).toEqual([
      `worker ${logLines(server).find((line) => line.pid === stuck)?.worker} did not exit after draining; killing it`,
    ]);
    expect(messages).toContain(
      `worker ${logLines(server).find((line) => line.pid === stuck)?.worker} (pid ${stuck}) exited with signal SIGKILL while draining`,
    );
    expect(messages).toContainEqual(
      expect.stringMatching(/^worker \d+ \(pid \d+\) drained and exited$/),
    );
    expect(messages).toContain('shutdown failed');
    expect(messages).not.toContain('shut down');
  });

  it('workers whose primary is killed drain: in-flight requests all answered', async () => {
    const server = await cluster([]);
    const burst = await inFlight(server, 4);

    server.child.kill('SIGKILL');
    await untilLogged(server, (line) => line.message === 'the primary is gone, draining', 2);
    expect(await finish(burst)).toEqual([200, 200, 200, 200]);
    // The primary's status (killed); the stream ends once both workers have exited.
    expect(await server.exited).toBeNull();
    expect(pidsAnswering(server, '/api/v1/timestamp', 200).size).toBe(2);
  });

  it('a worker that answers a scrape after its primary died drains, not crashes (EPIPE heard)', async () => {
    const server = await cluster([]);
    const burst = await inFlight(server, 4);
    const workers = workerPids(server);
    const [paused = 0] = workers;
    // Paused, it gets the scrape's request but answers it only once its primary is gone: the
    // answer fails with EPIPE, which node re-emits on cluster.worker, where unheard it crashed.
    process.kill(paused, 'SIGSTOP');
    await (await fetch(server.metricsUrl)).text();
    server.child.kill('SIGKILL');
    process.kill(paused, 'SIGCONT');
    await untilLogged(server, (line) => line.message === 'the primary is gone, draining', 2);
    expect(await finish(burst)).toEqual([200, 200, 200, 200]);
    expect(await server.exited).toBeNull();
  });

  it("SIGHUP while a replacement still loads reopens the serving workers' files and spares it", async () => {
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const server = await cluster(['--audit-log', dir.path('audit.jsonl')]);
    const primary = server.child.pid ?? 0;
    const workers = new Set(workerPids(server));
    const [victim, survivor] = [...workers];
    process.kill(victim ?? 0, 'SIGKILL');
    // Stopped before it has a SIGHUP handler.
    const replacement = await stoppedReplacement(primary, workers);
    server.child.kill('SIGHUP');
    await untilLogged(
      server,
      (line) => line.pid === survivor && line.message === 'audit log reopened',
    );
    process.kill(replacement, 'SIGCONT');
    await untilLogged(server, (line) => /^worker \d+ replaced$/.test(line.message ?? ''));
    expect(logLines(server).find((line) => line.message?.endsWith('replaced'))?.workerPid).toBe(
      replacement,
    );
    expect(logLines(server).some((line) => /signal SIGHUP/.test(line.message ?? ''))).toBe(false);
  });

  it('a worker that drains on its own leaves its final counts in /metrics, though never scraped', async () => {
    const server = await cluster([]);
    await Promise.all(
      Array.from({ length: 6 }, () => call(server.url, '/api/v1/timestamp/certchain')),
    );
    await untilLogged(server, (line) => line.url === '/api/v1/timestamp/certchain', 6);
    expect(pidsAnswering(server, '/api/v1/timestamp/certchain', 200).size).toBe(2);
    // No scrape yet: the primary has heard no counts of either worker.
    const drained = logLines(server).find((line) => line.worker === 1)?.pid;
    process.kill(drained ?? 0, 'SIGTERM');
    await untilLogged(server, (line) => /^worker \d+ replaced$/.test(line.message ?? ''));
    // Told to stop (not by the primary), it is replaced: a warning, not a crash's error.
    expect(
      logLines(server).filter((line) => line.message?.includes(`(pid ${drained}) `)),
    ).toContainEqual(
      expect.objectContaining({
        severity: 'WARN',
        message: expect.stringMatching(
          /^worker 1 \(pid \d+\) drained and exited when told to stop; starting a replacement/,
        ),
      }),
    );
    const text = await (await fetch(server.metricsUrl)).text();
    expect(
      sample(
        text,
        'timestamp_authority_http_requests_total',
        'code="200",path="/api/v1/timestamp/certchain",method="GET"',
      ),
    ).toBe('6');
    expect(sample(text, 'timestamp_authority_cluster_worker_exits_total')).toBe('1');
  });

  it('a worker that drains on its own no longer counts as serving, while its requests finish', async () => {
    const server = await cluster([]);
    const serving = async () =>
      sample(
        await (await fetch(server.metricsUrl)).text(),
        'timestamp_authority_cluster_workers_serving',
      );
    expect(await serving()).toBe('2');
    const burst = await inFlight(server, 4);
    const [draining = 0] = workerPids(server);
    process.kill(draining, 'SIGTERM');
    await untilLogged(
      server,
      (line) => line.pid === draining && line.message === 'received SIGTERM, draining',
    );
    // Its word travels on the IPC channel, the log line on stdout: either may come first.
    await waitUntil(async () => (await serving()) === '1');
    expect(await finish(burst)).toEqual([200, 200, 200, 200]);
    await untilLogged(server, (line) => /^worker \d+ replaced$/.test(line.message ?? ''));
    expect(await serving()).toBe('2');
  });

  it('a worker that cannot start stops the start-up: exit 1, the reason logged', async () => {
    const run = runCli([
      'serve',
      '--workers',
      '2',
      '--port',
      '0',
      '--log-type',
      'prod',
      ...MISSING_FILE_SIGNER,
    ]);
    expect(await run.exited).toBe(1);
    const logged = run
      .stdout()
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as LogLine);
    // The worker's own FATAL line reaches the output before the process ends (the prod log's
    // writer thread is flushed on the worker's exit: test/e2e/server/log-flush.test.ts).
    expect(logged.some((line) => line.severity === 'FATAL' && line.worker !== undefined)).toBe(
      true,
    );
    const messages = logged.map((line) => line.message ?? '');
    expect(messages.some((message) => message.startsWith('cannot start: worker'))).toBe(true);
    expect(messages).toContain(
      'cannot start: file: reading key path --file-signer-key-path (the file it names): ENOENT',
    );
    expect(messages.some((message) => message.includes('starting a replacement'))).toBe(false);
  });

  it('--workers takes a number or auto, nothing else', async () => {
    const invalid = runCli(['serve', '--workers', 'many']);
    expect(await invalid.exited).toBe(2);
    expect(invalid.stderr()).toContain('invalid value for --workers: "many"');
    const zero = runCli(['serve', '--workers', '0']);
    expect(await zero.exited).toBe(2);
    const printed = runCli(['serve', '--print-config'], { WORKERS: 'auto' });
    expect(await printed.exited).toBe(0);
    expect(printed.stdout()).toMatch(/workers.*auto/);
  });
});

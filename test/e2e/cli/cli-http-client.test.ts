import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../../src/runtime/serve.js';
import { CLI_JS } from '../../helpers/cli.js';
import { startForwardProxy } from '../../helpers/forward-proxy.js';
import { heldTimerEnvironment } from '../../helpers/held-timer.js';
import { tempDir } from '../../helpers/openssl.js';
import { waitUntil } from '../../helpers/poll.js';
import { childEnvironment, REPO_ROOT, reapChild, runToEnd } from '../../helpers/process.js';
import { startLocalServer } from '../../helpers/tsa.js';
import { selfSignedTls } from '../../fakes/tls.js';

/**
 * timestamp-cli's HTTP client (src/cli/timestamp-cli/http-fetch.ts): the proxy variables as Go's
 * client reads them, and no deadline but --timeout's (undici's own 300 s for the headers and 10 s
 * to connect are off), against local servers and a local proxy only. No assertion on elapsed
 * time: undici's deadlines run on a clock of its own, which a preload makes fast or holds.
 */

const PROXY_VARIABLES = ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'ALL_PROXY'].flatMap((name) => [
  name,
  name.toLowerCase(),
]);
/** A name that is not loopback: only the proxy (or the loopback-hosts preload) knows where it is. */
const TSA_HOST = 'tsa.example';

const preload = (name: string) =>
  `--import=${pathToFileURL(join(REPO_ROOT, 'test', 'helpers', name)).href}`;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the built CLI in the test's environment plus `env`, without the developer's proxy
 * variables; resolves once it exits by itself (there is no deadline here: a CLI that does not exit
 * fails the test at its timeout, and is then killed).
 */
async function cli(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<Exit> {
  const environment = childEnvironment(env);
  for (const name of PROXY_VARIABLES) if (!(name in env)) delete environment[name];
  const run = await runToEnd(process.execPath, [CLI_JS, ...args], {
    env: environment,
    ...(cwd === undefined ? {} : { cwd }),
  });
  return { code: run.status, signal: run.signal, stdout: run.stdout, stderr: run.stderr };
}

/**
 * A port of 127.0.0.1 where a connection is never made: a listener (in a process of its own,
 * stopped with SIGSTOP, so it never accepts) whose backlog is full, so the kernel drops the SYNs
 * of any further connection, which then waits for its SYN-ACK.
 */
async function unansweredPort(): Promise<{ port: number; close: () => void }> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      "const s = require('net').createServer(); s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => console.log(s.address().port));",
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  reapChild(child);
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  const port = Number(line.toString().trim());
  child.kill('SIGSTOP');
  // The accept queue holds backlog + 1 connections: two made, the rest wait as the CLI's will.
  const fillers = Array.from({ length: 4 }, () => connect(port, '127.0.0.1').on('error', () => {}));
  await Promise.all(fillers.slice(0, 2).map((socket) => once(socket, 'connect')));
  return {
    port,
    close: () => {
      fillers.forEach((socket) => socket.destroy());
      child.kill('SIGKILL');
    },
  };
}

describe('timestamp-cli through a proxy (HTTP_PROXY, HTTPS_PROXY, NO_PROXY)', () => {
  const dir = tempDir();
  let tsa: RunningServer;
  let tsaPort: number;
  let tls: Server;
  let tlsPort: number;
  let proxy: Awaited<ReturnType<typeof startForwardProxy>>;

  beforeAll(async () => {
    tsa = await startLocalServer();
    tsaPort = Number(new URL(tsa.url).port);
    dir.write('artifact', 'through a proxy\n');
    // An https server for TSA_HOST (its certificate trusted through NODE_EXTRA_CA_CERTS), which
    // answers every request with an error of its own words.
    const certificate = selfSignedTls(TSA_HOST);
    dir.write('tls.pem', certificate.cert);
    tls = createHttpsServer(certificate, (_request, response) =>
      response
        .writeHead(500, { 'Content-Type': 'application/json' })
        .end('{"message":"reached over TLS"}'),
    );
    await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
    tlsPort = (tls.address() as AddressInfo).port;
    // The proxy these tests must not use: it routes nowhere.
    proxy = await startForwardProxy(() => undefined);
  });
  afterAll(async () => {
    await proxy.close();
    tls.closeAllConnections();
    await new Promise((resolve) => tls.close(resolve));
    await tsa.close();
    dir.cleanup();
  });

  /** `timestamp` of the artifact from `server`, the response written to out.tsr. */
  const timestamp = (server: string, env: NodeJS.ProcessEnv) =>
    cli(
      ['--timestamp_server', server, 'timestamp', '--artifact', 'artifact', '--out', 'out.tsr'],
      env,
      dir.dir,
    );

  it('sends an http:// request to HTTP_PROXY in absolute form, as Go does, and gets its token', async () => {
    const routed = await startForwardProxy((host) => (host === TSA_HOST ? tsaPort : undefined));
    try {
      const result = await timestamp(`http://${TSA_HOST}:${tsaPort}`, {
        HTTP_PROXY: routed.url,
      });
      expect(result.stderr).toBe('Generating a new signed timestamp\n');
      expect(result.code).toBe(0);
      expect(routed.forwarded).toEqual([`POST http://${TSA_HOST}:${tsaPort}/api/v1/timestamp`]);
      expect(routed.tunnels).toEqual([]);
    } finally {
      await routed.close();
    }
  });

  it('tunnels an https:// request through HTTPS_PROXY with CONNECT', async () => {
    const routed = await startForwardProxy((host) => (host === TSA_HOST ? tlsPort : undefined));
    try {
      const result = await timestamp(`https://${TSA_HOST}:${tlsPort}`, {
        HTTPS_PROXY: routed.url,
        NODE_EXTRA_CA_CERTS: dir.path('tls.pem'),
      });
      expect(result.stderr).toBe(
        'Generating a new signed timestamp\nerror getting timestamp: HTTP 500: reached over TLS\n',
      );
      expect(result.code).toBe(1);
      expect(routed.tunnels).toEqual([`CONNECT ${TSA_HOST}:${tlsPort}`]);
      expect(routed.forwarded).toEqual([]);
    } finally {
      await routed.close();
    }
  });

  it('goes direct to a host NO_PROXY names', async () => {
    proxy.reset();
    const result = await timestamp(`http://${TSA_HOST}:${tsaPort}`, {
      HTTP_PROXY: proxy.url,
      NO_PROXY: `other.example,${TSA_HOST}`,
      // TSA_HOST is this machine, for the CLI, without a DNS query.
      NODE_OPTIONS: preload('loopback-hosts.mjs'),
      LOOPBACK_HOSTS: TSA_HOST,
    });
    expect(result.stderr).toBe('Generating a new signed timestamp\n');
    expect(result.code).toBe(0);
    expect([...proxy.forwarded, ...proxy.tunnels]).toEqual([]);
  });

  it('never proxies loopback (127.0.0.1, localhost), as Go does', async () => {
    proxy.reset();
    for (const host of ['127.0.0.1', 'localhost']) {
      const result = await timestamp(`http://${host}:${tsaPort}`, {
        HTTP_PROXY: proxy.url,
        HTTPS_PROXY: proxy.url,
      });
      expect(result.code, result.stderr).toBe(0);
    }
    expect([...proxy.forwarded, ...proxy.tunnels]).toEqual([]);
  });

  it('refuses a socks5:// proxy for a request it would carry, not for loopback, which none carries', async () => {
    const socks = { HTTP_PROXY: 'socks5://127.0.0.1:1', HTTPS_PROXY: 'socks5://127.0.0.1:1' };
    const refused = await timestamp(`https://${TSA_HOST}:${tlsPort}`, socks);
    expect(refused.stderr).toContain(
      'HTTPS_PROXY: a socks5 proxy is not supported: only http:// and https:// proxies',
    );
    expect(refused.code).not.toBe(0);
    const direct = await timestamp(`http://127.0.0.1:${tsaPort}`, socks);
    expect(direct.code, direct.stderr).toBe(0);
  });
});

describe('timestamp-cli has no deadline but --timeout', () => {
  const dir = tempDir();
  let tsa: RunningServer;
  beforeAll(async () => {
    tsa = await startLocalServer();
    dir.write('artifact', 'deadlines\n');
  });
  afterAll(async () => {
    await tsa.close();
    dir.cleanup();
  });

  /** The environment of a CLI whose undici clock runs fast; `ticks()` reads how far it got. */
  function fastUndiciClock() {
    const file = dir.path(`ticks-${Math.random().toString(36).slice(2)}`);
    return {
      env: { NODE_OPTIONS: preload('fast-undici-clock.mjs'), FAST_UNDICI_CLOCK_TICKS: file },
      ticks: () => (existsSync(file) ? Number(readFileSync(file, 'utf8')) : 0),
    };
  }

  it.each(['0', '10m'])(
    'with --timeout %s, waits for the headers past undici’s 300 s (on its clock, run fast)',
    async (timeout) => {
      const clock = fastUndiciClock();
      const held: string[] = [];
      // Answers as the TSA does, once undici's clock in the CLI is past 349 s (700 ticks).
      const slow = createServer((request, response) => {
        const chunks: Buffer[] = [];
        request.on('data', (chunk: Buffer) => chunks.push(chunk));
        request.on('end', () => {
          held.push(request.url ?? '');
          void (async () => {
            await waitUntil(() => clock.ticks() >= 700);
            const answer = await fetch(`${tsa.url}${request.url}`, {
              method: 'POST',
              headers: { 'Content-Type': 'application/timestamp-query' },
              body: Buffer.concat(chunks),
            });
            response
              .writeHead(answer.status, {
                'Content-Type': answer.headers.get('content-type') ?? '',
              })
              .end(Buffer.from(await answer.arrayBuffer()));
          })();
        });
      });
      await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
      try {
        const result = await cli(
          [
            '--timestamp_server',
            `http://127.0.0.1:${(slow.address() as AddressInfo).port}`,
            '--timeout',
            timeout,
            'timestamp',
            '--artifact',
            'artifact',
            '--out',
            'out.tsr',
          ],
          clock.env,
          dir.dir,
        );
        expect(result.stderr).toBe('Generating a new signed timestamp\n');
        expect(result.code).toBe(0);
        expect(held).toEqual(['/api/v1/timestamp']);
        expect(clock.ticks()).toBeGreaterThanOrEqual(700);
      } finally {
        slow.closeAllConnections();
        await new Promise((resolve) => slow.close(resolve));
      }
    },
  );

  it('gives connecting all of --timeout, not undici’s 10 s (on its clock, run fast)', async () => {
    const unanswered = await unansweredPort();
    try {
      const result = await cli(
        [
          '--timestamp_server',
          `http://127.0.0.1:${unanswered.port}`,
          // Far longer in real time than undici's clock, run fast, takes to reach it.
          '--timeout',
          '60s',
          'timestamp',
          '--artifact',
          'artifact',
          '--out',
          'out.tsr',
        ],
        fastUndiciClock().env,
        dir.dir,
      );
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        'Generating a new signed timestamp\n' +
          `error getting timestamp: fetch failed: Connect Timeout Error (attempted address: 127.0.0.1:${unanswered.port}, timeout: 60000ms)\n`,
      );
    } finally {
      unanswered.close();
    }
  });

  it('exits once --timeout has passed, leaving no connection being made to keep it alive', async () => {
    const unanswered = await unansweredPort();
    // undici's clock held still: its connect deadline never ends the connection; --timeout's
    // signal (Node's own timer) must, and the process must then exit by itself.
    const held = heldTimerEnvironment(499);
    try {
      const result = await cli(
        [
          '--timestamp_server',
          `http://127.0.0.1:${unanswered.port}`,
          '--timeout',
          '2s',
          'timestamp',
          '--artifact',
          'artifact',
          '--out',
          'out.tsr',
        ],
        held.env,
        dir.dir,
      );
      expect(result.signal).toBe(null);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        'Generating a new signed timestamp\nerror getting timestamp: The operation was aborted due to timeout\n',
      );
      expect(held.count()).toBeGreaterThan(0);
    } finally {
      unanswered.close();
    }
    // A hang guard, not a deadline: the CLI that kept its connection alive never exited.
  }, 120_000);
});

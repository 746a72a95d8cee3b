import { mkdirSync, readFileSync } from 'node:fs';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { readChrony, type ChronyReading } from '../../../src/clock/chrony-client.js';
import { createClockGate } from '../../../src/clock/clock-gate.js';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import { startServer, type RunningServer } from '../../../src/runtime/serve.js';
import {
  freeTcpPort,
  freeUdpPort,
  ntsCertificate,
  startChronyClient,
  startNtpServer,
  type Chrony,
} from '../../helpers/chrony.js';
import { chronyMonitorOn } from '../../helpers/chrony-monitor.js';
import { openssl, tempDir } from '../../helpers/openssl.js';
import { until } from '../../helpers/sntp-responder.js';

/**
 * The clock gate fed by a real client chronyd (--time-source chrony) that follows a real NTS
 * server chronyd, all on loopback; no chronyd touches the system clock (-x). Waits are generous
 * polls for a state (a restarted server is found again after chronyd's NTS-KE back-off), never
 * timing assertions.
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

// chronyd's NTS-KE back-off after a server restart can take tens of seconds: the waits below
// have no deadline of their own, the test timeout bounds them.

async function setup() {
  const dir = tempDir();
  cleanups.push(() => dir.cleanup());
  const { cert, key } = await ntsCertificate(dir.dir);
  const ntp = { port: await freeUdpPort(), ntsPort: await freeTcpPort() };
  const serverState = dir.path('server-state');
  mkdirSync(serverState);
  const startNts = (skewSeconds = 0, nts = true) =>
    startNtpServer({
      port: ntp.port,
      skewSeconds,
      stateDir: serverState,
      ...(nts ? { nts: { ntsPort: ntp.ntsPort, cert, key } } : {}),
    });
  const ntsSource = `server 127.0.0.1 port ${ntp.port} nts ntsport ${ntp.ntsPort} iburst minpoll -6 maxpoll -6`;
  // The Go YAML, shortened: the period, a reading's timeout and the threshold; no servers (chronyd's).
  const ntpConfig = dir.write(
    'ntp.yaml',
    ['request_timeout: 1', 'max_time_delta: 1', 'period: 1', ''].join('\n'),
  );
  const query = dir.path('request.tsq');
  const data = dir.write('data.txt', 'authenticated time');
  await openssl(['ts', '-query', '-data', data, '-sha256', '-cert', '-out', query]);
  return { dir, cert, ntsSource, startNts, ntpConfig, query };
}

type Setup = Awaited<ReturnType<typeof setup>>;

async function startTsa(
  { dir, ntpConfig }: Setup,
  socket: string,
  name: string,
  extra: Record<string, unknown> = {},
) {
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
  const auditLog = dir.path(`${name}-audit.jsonl`);
  const server = await startServer(
    resolveServeConfig({
      host: '127.0.0.1',
      port: 0,
      metricsPort: 0,
      ntpMonitoring: ntpConfig,
      timeSource: 'chrony',
      chronySocket: socket,
      auditLog,
      ...extra,
    }),
    logger,
  );
  cleanups.push(() => server.close());
  const logged = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  return { server, logged, auditLog };
}

async function timestamp(server: RunningServer, query: string) {
  const response = await fetch(`${server.url}/api/v1/timestamp`, {
    method: 'POST',
    headers: { 'content-type': 'application/timestamp-query' },
    body: readFileSync(query),
  });
  return { status: response.status, body: new Uint8Array(await response.arrayBuffer()) };
}

const status = async (server: RunningServer, path: string) =>
  (await fetch(`${server.url}${path}`)).status;

describe('clock gate on chronyd with an NTS server (--time-source chrony)', () => {
  it('issues on NTS-authenticated time; a server 30 s ahead: drifted, timeNotAvailable, /readyz 503; chronyd stopped: still drifted', async () => {
    const env = await setup();
    let server: Chrony = await env.startNts();
    cleanups.push(() => server.stop());
    const client = await startChronyClient([env.ntsSource], [`ntstrustedcerts ${env.cert}`]);
    cleanups.push(() => client.stop());
    const { server: tsa, auditLog } = await startTsa(env, client.socket, 'nts', {
      accuracy: 'auto',
      requireNts: true,
    });
    const clock = tsa.clock!;

    await until(
      () => clock.status.state === 'synced',
      () => `synced: ${client.output()}`,
    );
    expect(clock.status.chrony).toMatchObject({ reference: '127.0.0.1', authenticated: true });
    const granted = await timestamp(tsa, env.query);
    expect(granted.status).toBe(200);
    const reply = env.dir.write('granted.tsr', granted.body);
    const text = await openssl(['ts', '-reply', '-in', reply, '-text']);
    expect(text).toContain('Status: Granted.');
    // --accuracy auto: chronyd's bound on loopback is well under the 1 s threshold.
    expect(text).toMatch(/Accuracy: unspecified seconds, 0x[0-9A-F]+ millis/);
    const record = JSON.parse(readFileSync(auditLog, 'utf8').trim().split('\n').at(-1)!) as {
      timeSource: Record<string, unknown>;
    };
    expect(record.timeSource).toMatchObject({
      source: 'chrony',
      state: 'synced',
      reference: '127.0.0.1',
      authenticated: true,
      offsetMs: expect.any(Number),
      sampleOffsetMs: expect.any(Number),
      boundMs: expect.any(Number),
    });
    const metrics = await (await fetch(tsa.metricsUrl)).text();
    expect(metrics).toContain(
      'timestamp_authority_time_source_authenticated{reference="127.0.0.1"} 1',
    );
    expect(metrics).toMatch(/timestamp_authority_time_source_root_dispersion_seconds \d/);

    // The same server, now 30 s ahead: chronyd's estimate of the local clock follows it.
    await server.stop();
    server = await env.startNts(30);
    await until(
      () => clock.status.state === 'drifted',
      () => `drifted: ${client.output()}`,
    );
    expect(Math.abs(clock.status.offsetMs! - 30_000)).toBeLessThan(1000);
    const refused = await timestamp(tsa, env.query);
    expect(refused.status).toBe(503);
    const refusedText = await openssl([
      'ts',
      '-reply',
      '-in',
      env.dir.write('refused.tsr', refused.body),
      '-text',
    ]);
    expect(refusedText).toContain("the TSA's time source is not available");
    expect([await status(tsa, '/readyz'), await status(tsa, '/livez')]).toEqual([503, 200]);

    // No chronyd to ask: no usable answer, and the clock was found off: it stays drifted.
    await client.stop();
    await until(() => clock.status.detail.includes('chronyd not reachable'), 'chronyd gone');
    expect(clock.status.state).toBe('drifted');
    expect(clock.status.detail).toMatch(/^re-verification got no usable answer \(chronyd not/);
    expect((await timestamp(tsa, env.query)).status).toBe(503);
  });

  it('a server that stops doing NTS: chronyd falls back to an unauthenticated source; --require-nts stops issuance, without it the state is logged as unauthenticated', async () => {
    const env = await setup();
    let server: Chrony = await env.startNts();
    cleanups.push(() => server.stop());
    // A plain NTP server on another loopback address, the fallback chronyd may select.
    const plain = await startNtpServer({ port: await freeUdpPort(), address: '127.0.0.2' });
    cleanups.push(() => plain.stop());
    // A chronyd that may fall back to plain NTP (authselectmode ignore), preferring the NTS source
    // while it is selectable: what --require-nts guards against.
    const client = await startChronyClient(
      [
        `${env.ntsSource} prefer`,
        `server 127.0.0.2 port ${plain.port} iburst minpoll -6 maxpoll -6`,
      ],
      [`ntstrustedcerts ${env.cert}`, 'authselectmode ignore'],
    );
    cleanups.push(() => client.stop());
    const strict = await startTsa(env, client.socket, 'strict', { requireNts: true });
    const lenient = await startTsa(env, client.socket, 'lenient');

    for (const { server: tsa } of [strict, lenient]) {
      await until(
        () => tsa.clock!.status.chrony?.authenticated === true,
        () => `authenticated: ${client.output()}`,
      );
      expect((await timestamp(tsa, env.query)).status).toBe(200);
    }

    // Restarted without NTS: its replies can no longer be authenticated, chronyd drops them.
    await server.stop();
    server = await env.startNts(0, false);
    await until(
      () => strict.server.clock!.status.chrony?.reference === '127.0.0.2',
      () => `fallback selected: ${client.output()}`,
    );
    await until(() => strict.server.clock!.status.state === 'unverified', 'unverified');
    expect(strict.server.clock!.status.detail).toContain('not NTS-authenticated');
    expect((await timestamp(strict.server, env.query)).status).toBe(503);
    expect(await status(strict.server, '/readyz')).toBe(503);

    await until(
      () => lenient.server.clock!.status.chrony?.reference === '127.0.0.2',
      'fallback selected (lenient)',
    );
    expect(lenient.server.clock!.status.state).toBe('synced');
    const granted = await timestamp(lenient.server, env.query);
    expect(granted.status).toBe(200);
    const warning = lenient
      .logged()
      .find((line) => line['authenticated'] === false && line['reference'] === '127.0.0.2');
    expect(warning?.['msg']).toContain('not authenticated');
    const record = JSON.parse(
      readFileSync(lenient.auditLog, 'utf8').trim().split('\n').at(-1)!,
    ) as { timeSource: Record<string, unknown> };
    expect(record.timeSource).toMatchObject({ reference: '127.0.0.2', authenticated: false });
  });
});

/**
 * Reads chronyd until it selects an NTS source and combines (`+`) a plain one with it: the
 * reading, and that plain source's name.
 */
async function readingCombiningPlain(client: { socket: string; output: () => string }) {
  let found: { reading: ChronyReading; plain: string } | undefined;
  await until(
    async () => {
      const reading = await readChrony({ socket: client.socket, timeoutMs: 10_000 });
      const nts = new Set(
        reading.authdata.filter(({ mode }) => mode === 'NTS').map(({ name }) => name),
      );
      const selected = reading.sources.find(({ state }) => state === '*');
      const plain = reading.sources.find(({ state, name }) => state === '+' && !nts.has(name));
      if (selected && nts.has(selected.name) && plain) found = { reading, plain: plain.name };
      return found !== undefined;
    },
    () => `an NTS source selected and a plain one combined: ${client.output()}`,
    50,
  );
  return found!;
}

/** A monitor of chronyd's answer `reading` (the period and threshold of setup()'s YAML). */
function monitorOf(reading: ChronyReading, requireNts: boolean) {
  const { monitor, lines } = chronyMonitorOn(() => Promise.resolve(reading), {
    accuracyMs: 'auto',
    requireNts,
    maxTimeDeltaMs: 1000,
    periodMs: 1000,
  });
  return { monitor, warnings: () => lines.filter(({ level }) => level === 'warn') };
}

describe("chronyd's default authselectmode (mix): plain sources combined with an NTS one", () => {
  it('--require-nts refuses, naming the plain source; without it the time is not counted as authenticated', async () => {
    const env = await setup();
    const server = await env.startNts();
    cleanups.push(() => server.stop());
    const plainServers = await Promise.all(
      ['127.0.0.2', '127.0.0.3'].map(async (address) =>
        startNtpServer({ port: await freeUdpPort(), address }),
      ),
    );
    for (const plain of plainServers) cleanups.push(() => plain.stop());
    // No authselectmode: chronyd's default, mix.
    const client = await startChronyClient(
      [
        env.ntsSource,
        ...plainServers.map(
          ({ port }, i) => `server 127.0.0.${i + 2} port ${port} iburst minpoll -6 maxpoll -6`,
        ),
      ],
      [`ntstrustedcerts ${env.cert}`],
    );
    cleanups.push(() => client.stop());
    const { reading, plain } = await readingCombiningPlain(client);

    const strict = monitorOf(reading, true).monitor;
    const refused = await strict.runRound();
    expect(refused.state).toBe('unverified');
    expect(refused.detail).toBe(
      `chronyd combines source ${plain}, which is not NTS-authenticated, with its selected source 127.0.0.1 (stratum 9), and NTS is required`,
    );
    expect(refused.chrony).toMatchObject({ authenticated: false, unauthenticated: plain });
    expect(createClockGate(strict, { requireTimeSync: true })()?.failInfo).toBe('timeNotAvailable');

    const { monitor: lenient, warnings } = monitorOf(reading, false);
    const issued = await lenient.runRound();
    expect(issued.state).toBe('synced');
    expect(issued.chrony).toMatchObject({
      reference: '127.0.0.1',
      authenticated: false,
      unauthenticated: plain,
    });
    expect(warnings().map(({ message }) => message)).toEqual([
      `time source 127.0.0.1 is combined with ${plain}, which is not authenticated (no NTS): its time could be forged on the path`,
    ]);
  });
});

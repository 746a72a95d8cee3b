/**
 * Part 2: end to end over HTTP, our server against the floor server (bench/floor-server.ts), run
 * alternately (A B A B ...) with the same connections and duration; median over the pairs of the
 * ratios server/floor of req/s and of p99. With --workers N both run N processes.
 *   npm run bench -- http [--seconds 10] [--pairs 3] [--connections 64] [--workers 1]
 *     [--server-flags="--log-type prod --verify-tokens=true"] [--no-pin] [--against ../other]
 *     [--token-floor] [--turn-floor]
 * --against runs the server of another checkout (built: its dist/) with the same flags as a third
 * server in the same alternation, to compare two versions on the same machine minutes.
 * --token-floor adds the token floor (floor-server.ts --token: the floor answering our tokens,
 * nothing else) to the alternation, and prints the ratios token floor/floor (what the token costs)
 * and server/token floor (what the server around it costs).
 * --turn-floor adds the turn floor (floor-server.ts --turns: the floor's signatures made a turn's
 * requests at a time, as our server makes its tokens) and prints the ratio server/turn floor.
 * On Linux the servers run on every core but the last and the load generator on the last
 * (processes.ts cpuPlan), so that each server is measured with the same CPU, not against the
 * load generator; --no-pin shares every core among all of them.
 */
import autocannon from 'autocannon';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePort } from '../test/helpers/process.js';
import { encodeRequest } from '../test/helpers/requests.js';
import { parseTimestampResponse } from '../src/verify/parse-response.js';
import {
  cpuPlan,
  pinSelf,
  requireCurrentBuild,
  startFloorServer,
  startTimestampServer,
  type BenchProcess,
} from './processes.js';
import { format, median, percentile } from './stats.js';

/** The Go k6 load test's request: SHA-256("hello"), nonce 0x45EA49F1AAC25D41, no certReq, no policy. */
export const LOAD_TEST_REQUEST = encodeRequest({
  digest: createHash('sha256').update('hello').digest(),
  nonce: 0x45ea49f1aac25d41n,
});

/** The token floor's name in the runs' output (floor-server.ts --token). */
const TOKEN_FLOOR = 'token-floor';
/** The turn floor's name in the runs' output (floor-server.ts --turns). */
const TURN_FLOOR = 'turn-floor';

/** The fixed offered load of the latency comparison, as a share of our server's closed-loop req/s. */
const FIXED_RATE_SHARE = 0.7;
/** A server answering less than this share of the offered rate did not sustain it. */
const SUSTAINED_SHARE = 0.95;

export interface LoadResult {
  requestsPerSecond: number;
  /** Answers received over the run (autocannon's count, any status), and the run's length in s. */
  requests: number;
  seconds: number;
  /** With a fixed offered load: the rate offered, and whether the server answered within 5 % of it. */
  offeredRate?: number;
  sustained?: boolean;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  /** Server CPU time per request, in microseconds (robust to a noisy machine). */
  cpuMicroseconds?: number;
  /**
   * Connections the kernel dropped because the listen queue was full (Linux's ListenOverflows,
   * counted for the whole machine during the run): each such client retries after 1 s, then 3 s.
   */
  listenOverflows?: number;
}

/** Linux's TcpExt ListenOverflows counter, from /proc/net/netstat; undefined elsewhere. */
function listenOverflows(): number | undefined {
  try {
    const [names, values] = readFileSync('/proc/net/netstat', 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('TcpExt:'))
      .map((line) => line.split(/\s+/));
    const at = names?.indexOf('ListenOverflows') ?? -1;
    return at > 0 ? Number(values?.[at]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * autocannon's run with each answer's latency kept, ascending, in ms with process.hrtime's
 * resolution: autocannon's own histogram keeps whole milliseconds (0.4 ms reads 0, 1.9 ms reads 1),
 * which makes latencies and ratios under a few ms meaningless.
 */
export async function timedAutocannon(
  options: autocannon.Options,
): Promise<{ result: autocannon.Result; sorted: Float64Array }> {
  // The typings give the promise; the value is also the instance, whose 'response' events carry
  // each answer's latency: every answer's, as autocannon records them (excludeErrorStats off).
  const running = autocannon(options);
  const latencies: number[] = [];
  (running as unknown as autocannon.Instance).on('response', (_client, _status, _bytes, ms) =>
    latencies.push(ms),
  );
  const result = await running;
  return { result, sorted: Float64Array.from(latencies).sort() };
}

/** a / b, NaN when b is not a positive latency (no answers). */
const latencyRatio = (a: number, b: number): number => (b > 0 ? a / b : NaN);

export async function load(
  url: string,
  seconds: number,
  connections: number,
  body = LOAD_TEST_REQUEST,
  /**
   * Requests per second from all connections together; unset: as fast as answered. autocannon
   * gives each connection a quota per second (overallRate / connections), which it sends back to
   * back from the start of each second, one answer after the other, and then idles until the next
   * second: the arrivals come in bursts, not evenly spread.
   */
  overallRate?: number,
): Promise<LoadResult> {
  const { result, sorted } = await timedAutocannon({
    url: `${url}/api/v1/timestamp`,
    method: 'POST',
    headers: { 'content-type': 'application/timestamp-query' },
    body,
    connections,
    duration: seconds,
    // autocannon's coordinated-omission correction records each latency with an expected interval
    // of ceil(1 / per-connection rate) = 1 ms, so it invents samples at L-1, L-2 ... 1 ms for a
    // latency L (a server always answering in 20 ms would show p50 19 ms, min 1 ms): off, the
    // latencies are the ones measured (autocannon takes the option only with a rate).
    ...(overallRate === undefined ? {} : { overallRate, ignoreCoordinatedOmission: true }),
  });
  const achieved = result.requests.total / result.duration;
  return {
    requestsPerSecond: result.requests.average,
    requests: result.requests.total,
    seconds: result.duration,
    ...(overallRate === undefined
      ? {}
      : { offeredRate: overallRate, sustained: achieved >= overallRate * SUSTAINED_SHARE }),
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    // autocannon's `errors` already counts its timeouts.
    errors: result.errors,
    non2xx: result.non2xx,
  };
}

/**
 * Sends the bench's request once and checks the answer before any load: autocannon counts every
 * response whatever it says, so a server refusing the request (or answering a rejection) would
 * otherwise be measured as if it issued tokens. Ours (and --against) must answer 200 with a
 * granted TimeStampResp (PKIStatus 0, parsed by src/verify); the floor answers a bare signature,
 * so only 200 and a non-empty body are required of it.
 */
export async function checkAnswer(name: string, url: string, kind: 'tsa' | 'floor'): Promise<void> {
  const response = await fetch(`${url}/api/v1/timestamp`, {
    method: 'POST',
    headers: { 'content-type': 'application/timestamp-query' },
    body: LOAD_TEST_REQUEST,
  });
  const body = new Uint8Array(await response.arrayBuffer());
  if (response.status !== 200 || body.length === 0)
    throw new Error(
      `http: ${name} answers the bench request ${response.status}, ${body.length} bytes`,
    );
  if (kind === 'tsa') {
    try {
      parseTimestampResponse(body);
    } catch (error) {
      throw new Error(
        `http: ${name} does not grant the bench request: ${(error as Error).message}`,
      );
    }
  }
}

/** A run with any error, timeout or non-2xx answer measured something else than issuance. */
function requireClean(name: string, run: string, result: LoadResult): void {
  if (result.errors + result.non2xx > 0)
    throw new Error(
      `http ${run}: invalid run, no ratio: ${name} had ${result.errors} errors/timeouts and ${result.non2xx} non-2xx answers`,
    );
}

const describe = (name: string, r: LoadResult) =>
  `${name.padEnd(11)} ${format(r.requestsPerSecond).padStart(7)} req/s  p50 ${format(r.p50, 2)} ms  p99 ${format(r.p99, 2)} ms` +
  `  server CPU ${format(r.cpuMicroseconds ?? 0, 1)} us/request  errors ${r.errors + r.non2xx}` +
  (r.listenOverflows === undefined ? '' : `  listen overflows ${r.listenOverflows}`) +
  (r.offeredRate === undefined
    ? ''
    : `  ${format(r.requests)} answers in ${format(r.seconds, 2)} s`) +
  (r.sustained === false
    ? `  DID NOT SUSTAIN the offered ${format(r.offeredRate ?? 0)} req/s (answered ${format(r.requests / r.seconds)} req/s): its latencies are not at that load`
    : '');

/** A load run that also measures the CPU the server process spent per request. */
async function measure(
  server: BenchProcess,
  seconds: number,
  connections: number,
  overallRate?: number,
): Promise<LoadResult> {
  const cpuBefore = server.cpuSeconds();
  const overflowsBefore = listenOverflows();
  const result = await load(server.url, seconds, connections, LOAD_TEST_REQUEST, overallRate);
  const overflowsAfter = listenOverflows();
  return {
    ...result,
    cpuMicroseconds: ((server.cpuSeconds() - cpuBefore) * 1e6) / result.requests,
    ...(overflowsBefore === undefined || overflowsAfter === undefined
      ? {}
      : { listenOverflows: overflowsAfter - overflowsBefore }),
  };
}

export async function benchHttp(
  options: {
    seconds?: number;
    pairs?: number;
    connections?: number;
    workers?: number;
    serverFlags?: string[];
    pin?: boolean;
    /** Another checkout whose dist/ server runs alongside, with the same flags. */
    against?: string;
    /** The token floor runs alongside (floor-server.ts --token). */
    tokenFloor?: boolean;
    /** The turn floor runs alongside (floor-server.ts --turns). */
    turnFloor?: boolean;
  } = {},
) {
  const seconds = options.seconds ?? 10;
  const pairs = options.pairs ?? 3;
  const connections = options.connections ?? 64;
  const workers = options.workers ?? 1;
  // Before any server starts: both builds must be current.
  requireCurrentBuild();
  if (options.against) requireCurrentBuild(options.against);
  const plan = options.pin === false ? null : cpuPlan();
  console.log(
    plan
      ? `http: servers on cores ${plan.servers}, load generator on core ${plan.load}`
      : 'http: not pinned: servers and load generator share every core',
  );
  // Each with a metrics port of its own: two of ours cannot share the default one.
  const flags = async () => [
    ...(options.serverFlags ?? []),
    ...['--workers', String(workers), '--metrics-port', String(await freePort())],
  ];
  // Every server started is stopped in the finally below, whatever fails (a later start included).
  const servers: [string, BenchProcess][] = [];
  const ratios: number[] = [];
  const p99Ratios: number[] = [];
  const results: Record<string, LoadResult[]> = {
    server: [],
    floor: [],
    against: [],
    [TOKEN_FLOOR]: [],
    [TURN_FLOOR]: [],
  };
  const fixed: Record<string, LoadResult> = {};
  let rate = 0;
  try {
    servers.push(['server', await startTimestampServer(await flags(), plan?.servers)]);
    servers.push(['floor', await startFloorServer(workers, plan?.servers)]);
    if (options.against) {
      const entry = join(resolve(options.against), 'dist', 'src', 'cli', 'timestamp-server.js');
      servers.push(['against', await startTimestampServer(await flags(), plan?.servers, entry)]);
    }
    if (options.tokenFloor) {
      servers.push([TOKEN_FLOOR, await startFloorServer(workers, plan?.servers, 'token')]);
    }
    if (options.turnFloor) {
      servers.push([TURN_FLOOR, await startFloorServer(workers, plan?.servers, 'turns')]);
    }
    if (plan) pinSelf(plan.load);
    for (const [name, server] of servers)
      await checkAnswer(
        name,
        server.url,
        name === 'floor' || name === TURN_FLOOR ? 'floor' : 'tsa',
      );
    for (const [, server] of servers) await load(server.url, 1, connections); // warm-up
    for (let pair = 0; pair < pairs; pair++) {
      for (const [name, server] of servers) {
        const result = await measure(server, seconds, connections);
        results[name]?.push(result);
        console.log(`http pair ${pair + 1}: ${describe(name, result)}`);
        requireClean(name, `pair ${pair + 1}`, result);
      }
      const server = results['server']?.at(-1) as LoadResult;
      const floor = results['floor']?.at(-1) as LoadResult;
      ratios.push(server.requestsPerSecond / floor.requestsPerSecond);
      p99Ratios.push(latencyRatio(server.p99, floor.p99));
    }
    // Closed loop, every connection always waits on an answer, so p99 is about connections / req/s
    // and its ratio repeats the throughput's. At one offered rate for all (70 % of our server's
    // req/s), the latencies compare the servers' answers themselves, for the servers that answer
    // that rate (each run says whether it did). autocannon sends each connection's quota of a
    // second back to back, then idles: the load comes in bursts within each second.
    rate = Math.round(
      FIXED_RATE_SHARE * median((results['server'] ?? []).map((r) => r.requestsPerSecond)),
    );
    for (const [name, server] of servers) {
      const result = await measure(server, seconds, connections, rate);
      fixed[name] = result;
      console.log(`http fixed ${format(rate)} req/s: ${describe(name, result)}`);
      requireClean(name, 'fixed rate', result);
    }
  } finally {
    for (const [, server] of servers) await server.stop();
    if (plan) pinSelf(plan.before);
  }
  const summary = (name: string): LoadResult => {
    const list = results[name] ?? [];
    return {
      requestsPerSecond: median(list.map((r) => r.requestsPerSecond)),
      requests: list.reduce((sum, r) => sum + r.requests, 0),
      seconds: list.reduce((sum, r) => sum + r.seconds, 0),
      p50: median(list.map((r) => r.p50)),
      p99: median(list.map((r) => r.p99)),
      errors: list.reduce((sum, r) => sum + r.errors, 0),
      non2xx: list.reduce((sum, r) => sum + r.non2xx, 0),
      cpuMicroseconds: median(list.map((r) => r.cpuMicroseconds ?? 0)),
      ...(list.some((r) => r.listenOverflows !== undefined)
        ? { listenOverflows: median(list.map((r) => r.listenOverflows ?? 0)) }
        : {}),
    };
  };
  console.log(`http median: ${describe('server', summary('server'))}`);
  console.log(`http median: ${describe('floor', summary('floor'))}`);
  // The median over the pairs of one server's req/s over another's in the same pair.
  const pairRatio = (of: string, to: string) =>
    median(
      (results[of] ?? []).map(
        (r, i) => r.requestsPerSecond / (results[to]?.[i]?.requestsPerSecond ?? Infinity),
      ),
    );
  if (options.against) {
    console.log(`http median: ${describe('against', summary('against'))}`);
    console.log(
      `http ratio against/floor (${options.against}): req/s ${format(pairRatio('against', 'floor'), 2)}`,
    );
  }
  if (options.tokenFloor) {
    console.log(`http median: ${describe(TOKEN_FLOOR, summary(TOKEN_FLOOR))}`);
    console.log(
      `http ratio token floor/floor (the token): req/s ${format(pairRatio(TOKEN_FLOOR, 'floor'), 2)};` +
        ` server/token floor (the server around it): req/s ${format(pairRatio('server', TOKEN_FLOOR), 2)}`,
    );
  }
  if (options.turnFloor) {
    console.log(`http median: ${describe(TURN_FLOOR, summary(TURN_FLOOR))}`);
    console.log(
      `http ratio turn floor/floor (signatures in turns): req/s ${format(pairRatio(TURN_FLOOR, 'floor'), 2)};` +
        ` server/turn floor: req/s ${format(pairRatio('server', TURN_FLOOR), 2)}`,
    );
  }
  console.log(
    `http ratio server/floor (median of ${pairs} pairs): req/s ${format(median(ratios), 2)}, p99 ${format(median(p99Ratios), 2)}` +
      `  (${workers} process${workers > 1 ? 'es' : ''} each, ${connections} connections, ${seconds} s per run)`,
  );
  const fixedServer = fixed['server'] as LoadResult;
  const fixedFloor = fixed['floor'] as LoadResult;
  const fixedRate = {
    rate,
    server: fixedServer,
    floor: fixedFloor,
    p50Ratio: latencyRatio(fixedServer.p50, fixedFloor.p50),
    p99Ratio: latencyRatio(fixedServer.p99, fixedFloor.p99),
  };
  const shortOf = [fixedServer.sustained ? '' : 'server', fixedFloor.sustained ? '' : 'floor']
    .filter(Boolean)
    .join(' and ');
  console.log(
    `http latency at a fixed offered load of ${format(fixedRate.rate)} req/s (${FIXED_RATE_SHARE * 100} % of the server's;` +
      ` autocannon's per-connection quota each second, sent in bursts; no omission correction; one run each):` +
      ` p50 ${format(fixedServer.p50, 2)} vs ${format(fixedFloor.p50, 2)} ms (ratio ${format(fixedRate.p50Ratio, 2)}),` +
      ` p99 ${format(fixedServer.p99, 2)} vs ${format(fixedFloor.p99, 2)} ms (ratio ${format(fixedRate.p99Ratio, 2)})` +
      (shortOf
        ? `  -- NOT COMPARABLE: the ${shortOf} did not sustain the offered rate (within ${Math.round((1 - SUSTAINED_SHARE) * 100)} %)`
        : ''),
  );
  return {
    fixedRate,
    ratio: median(ratios),
    p99Ratio: median(p99Ratios),
    server: summary('server'),
    floor: summary('floor'),
    ...(options.against ? { against: summary('against') } : {}),
    ...(options.tokenFloor ? { tokenFloor: summary(TOKEN_FLOOR) } : {}),
    ...(options.turnFloor ? { turnFloor: summary(TURN_FLOOR) } : {}),
  };
}

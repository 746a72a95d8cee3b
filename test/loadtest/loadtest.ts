/**
 * Load test with the shape of the Go server's k6 script: ramp up to N connections, hold, ramp down,
 * each request the same DER TimeStampReq; passes when p95 < 1 s and errors < 0.1 %.
 *
 *   npm run loadtest -- http://127.0.0.1:3000 [--connections 100] [--ramp-up 15] [--hold 30] [--ramp-down 15]
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { helloTimeStampReq } from './request.js';
import {
  brokenThresholds,
  GO_THRESHOLDS,
  percentile,
  type LoadSummary,
  type Thresholds,
} from './thresholds.js';

export interface LoadTestOptions {
  url: string;
  connections: number;
  rampUpSeconds: number;
  holdSeconds: number;
  rampDownSeconds: number;
  thresholds: Thresholds;
  log?: (line: string) => void;
}

/** Granted tokens: 200, or 201 from a server run with --use-http-201. */
const GRANTED = new Set([200, 201]);
const RAMP_STEPS = 5;

/** [connections, seconds] per step: ramp up in steps, hold, ramp down in steps. */
export function stages(options: LoadTestOptions): [number, number][] {
  const step = (fraction: number) => Math.max(1, Math.round(options.connections * fraction));
  const plan: [number, number][] = [];
  for (let i = 1; i <= RAMP_STEPS; i++)
    plan.push([step(i / RAMP_STEPS), options.rampUpSeconds / RAMP_STEPS]);
  plan.push([options.connections, options.holdSeconds]);
  for (let i = RAMP_STEPS - 1; i >= 1; i--)
    plan.push([step(i / RAMP_STEPS), options.rampDownSeconds / (RAMP_STEPS - 1)]);
  return plan.filter(([, seconds]) => seconds > 0);
}

export async function runLoadTest(
  options: LoadTestOptions,
): Promise<{ summary: LoadSummary; broken: string[] }> {
  const log = options.log ?? (() => {});
  const ping = await fetch(new URL('/ping', options.url));
  if (ping.status !== 200) throw new Error(`GET /ping answered ${ping.status}, expected 200`);
  const body = helloTimeStampReq();
  const latencies: number[] = [];
  const statusCounts: Record<string, number> = {};
  let errors = 0;
  for (const [connections, seconds] of stages(options)) {
    log(`${connections} connections for ${seconds} s`);
    const result = await new Promise<autocannon.Result>((resolve, reject) => {
      const instance = autocannon(
        {
          url: new URL('/api/v1/timestamp', options.url).href,
          method: 'POST',
          headers: { 'content-type': 'application/timestamp-query' },
          body,
          connections,
          duration: seconds,
        },
        (error, done) => (error ? reject(error as Error) : resolve(done)),
      );
      instance.on('response', (_client, statusCode, _bytes, responseTime) => {
        latencies.push(responseTime);
        statusCounts[statusCode] = (statusCounts[statusCode] ?? 0) + 1;
        if (!GRANTED.has(statusCode)) errors++;
      });
    });
    errors += result.errors + result.timeouts;
  }
  latencies.sort((a, b) => a - b);
  const summary: LoadSummary = {
    requests: latencies.length,
    errors,
    p95Ms: percentile(latencies, 95),
    statusCounts,
  };
  return { summary, broken: brokenThresholds(summary, options.thresholds) };
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      connections: { type: 'string', default: '100' },
      'ramp-up': { type: 'string', default: '15' },
      hold: { type: 'string', default: '30' },
      'ramp-down': { type: 'string', default: '15' },
      'p95-ms': { type: 'string', default: String(GO_THRESHOLDS.p95Ms) },
      'max-error-rate': { type: 'string', default: String(GO_THRESHOLDS.errorRate) },
    },
  });
  const url = positionals[0] ?? process.env['TIMESTAMP_URL'] ?? 'http://127.0.0.1:3000';
  const { summary, broken } = await runLoadTest({
    url,
    connections: Number(values.connections),
    rampUpSeconds: Number(values['ramp-up']),
    holdSeconds: Number(values.hold),
    rampDownSeconds: Number(values['ramp-down']),
    thresholds: { p95Ms: Number(values['p95-ms']), errorRate: Number(values['max-error-rate']) },
    log: (line) => console.error(line),
  });
  console.log(JSON.stringify(summary));
  for (const line of broken) console.error(`threshold broken: ${line}`);
  console.log(broken.length === 0 ? 'load test passed' : 'load test failed');
  process.exitCode = broken.length === 0 ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}

import type { Worker } from 'node:cluster';
import { AggregatorRegistry, Counter, Gauge } from 'prom-client';
import { CLOCK_METRICS } from '../../clock/clock-metrics.js';
import { registry } from '../../metrics/registry.js';
import type { MetricsSource } from '../../server/metrics-listener.js';
import {
  isMessage,
  type FinalMetricsMessage,
  type MetricsJson,
  type MetricsMessage,
} from './messages.js';
import { RuntimeError } from '../runtime-error.js';

/**
 * The primary's own count of workers that exited while the server ran, each replaced: a worker
 * that keeps dying (a crash, a changed key file it refuses) shows as a rising count. In no
 * registry: only the primary's /metrics answer carries it.
 */
export const workerExitsTotal = new Counter({
  name: 'timestamp_authority_cluster_worker_exits_total',
  help: 'Cluster workers that exited while the server ran (each is replaced)',
  registers: [],
});

/**
 * The primary's count of workers serving now, not those draining. At 0 the port is closed, yet the primary answers
 * /metrics (Prometheus' `up` stays 1): alert on it. The primary gives up after a while of it
 * (supervisor.ts, NO_WORKER_SERVING_LIMIT_MS). In no registry, as the exits' count.
 */
export const workersServing = new Gauge({
  name: 'timestamp_authority_cluster_workers_serving',
  help: 'Cluster workers serving now, not draining (0: the port is closed)',
  registers: [],
});

/**
 * The primary's count of scrapes a worker did not answer in time (a blocked event loop, a stopped
 * process): its last answer was served in its place. In no registry, as the exits' count.
 */
export const workerScrapeTimeoutsTotal = new Counter({
  name: 'timestamp_authority_cluster_worker_scrape_timeouts_total',
  help: 'Scrapes a cluster worker did not answer within 5 s (its last answer was served instead)',
  registers: [],
});

/** How long a scrape waits for a worker's answer before it serves the worker's last one. */
const WORKER_ANSWER_TIMEOUT_MS = 5_000;

const clockMetricNames = async () =>
  new Set((await Promise.all(CLOCK_METRICS.map((metric) => metric.get()))).map(({ name }) => name));

/** This process's registry, less the NTP metrics (the primary's own monitor reports those). */
async function workerMetrics(): Promise<MetricsJson> {
  const [metrics, primaryOwned] = await Promise.all([
    registry.getMetricsAsJSON(),
    clockMetricNames(),
  ]);
  return metrics.filter(({ name }) => !primaryOwned.has(name));
}

/** In a worker: answers the primary's scrapes with this process's registry, less the NTP metrics. */
export function answerMetricsRequests(): void {
  process.on('message', (message: unknown) => {
    if (!isMessage(message, 'tsa:metrics-request')) return;
    const reply = (fields: Omit<MetricsMessage, 'type' | 'id'>) =>
      process.send?.({ type: 'tsa:metrics', id: message.id, ...fields } satisfies MetricsMessage);
    workerMetrics().then(
      (metrics) => reply({ metrics }),
      (error: unknown) => reply({ error: String(error) }),
    );
  });
}

/** How long a drained worker waits for its final counts to be written to the primary. */
const FINAL_METRICS_WAIT_MS = 1_000;

/**
 * In a worker that has drained, before it exits: its counts as they end, for the primary to keep
 * once it is gone (what it counted since the last scrape would otherwise be lost). Resolves once
 * written, at once without a primary, and after FINAL_METRICS_WAIT_MS whatever happened.
 */
export async function sendFinalMetrics(): Promise<void> {
  if (!process.send || !process.connected) return;
  const metrics = await workerMetrics();
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, FINAL_METRICS_WAIT_MS);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    // A closed channel answers the callback with an error: nothing more to wait for either.
    process.send?.(
      { type: 'tsa:final-metrics', metrics } satisfies FinalMetricsMessage,
      undefined,
      {},
      done,
    );
  });
}

let nextRequestId = 0;

/** A worker's answer to one request, or 'gone' when it exited (or cannot be written to) first. */
type Answer = MetricsMessage | 'gone';

/** A worker still there that did not answer within the timeout. */
const SILENT = Symbol('silent');

/**
 * Each worker's requests waiting for their answer, by id, behind one message listener and one exit
 * listener per worker, attached at its first request: a listener per request would pile up on a
 * worker while scrapes wait for it (MaxListenersExceededWarning).
 */
const waiting = new WeakMap<Worker, Map<number, (answer: Answer) => void>>();

function waitingOn(worker: Worker): Map<number, (answer: Answer) => void> {
  const known = waiting.get(worker);
  if (known) return known;
  const pending = new Map<number, (answer: Answer) => void>();
  worker.on('message', (message: unknown) => {
    if (isMessage(message, 'tsa:metrics')) pending.get(message.id)?.(message);
  });
  worker.on('exit', () => {
    for (const settle of [...pending.values()]) settle('gone');
  });
  waiting.set(worker, pending);
  return pending;
}

/**
 * One worker's metrics; undefined when it exits before answering (its counts went with it), SILENT
 * when it has not answered within `timeoutMs`.
 */
function requestMetrics(
  worker: Worker,
  timeoutMs: number,
): Promise<MetricsJson | undefined | typeof SILENT> {
  const id = nextRequestId++;
  const requests = waitingOn(worker);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      requests.delete(id);
      resolve(SILENT);
    }, timeoutMs);
    requests.set(id, (answer) => {
      requests.delete(id);
      clearTimeout(timer);
      if (answer === 'gone') resolve(undefined);
      else if (answer.error !== undefined)
        reject(new RuntimeError('WORKER_METRICS_FAILED', answer.error));
      else resolve(answer.metrics ?? []);
    });
    // A worker that died before its exit is seen cannot be written to (EPIPE): its counts went too.
    worker.send({ type: 'tsa:metrics-request', id }, (error) => {
      if (error) requests.get(id)?.('gone');
    });
  });
}

/** The primary's /metrics source, which also takes the final counts of a worker that drains. */
export interface ClusterMetricsSource extends MetricsSource {
  /** A worker's counts as it ends (tsa:final-metrics): kept as its last answer. */
  finalAnswer(worker: Worker, metrics: MetricsJson): void;
}

export interface ClusterMetricsOptions {
  /** Told of each worker that did not answer a scrape in time (a WARN line). */
  onSilentWorker?: (worker: Worker) => void;
  /** How long a scrape waits for each worker: WORKER_ANSWER_TIMEOUT_MS (tests shorten it). */
  answerTimeoutMs?: number;
}

/**
 * In the primary: one /metrics answer for the process group. Each worker's registry is merged by
 * prom-client's AggregatorRegistry with each metric's aggregator (counters and histograms sum;
 * gauges say how, e.g. build_info `first`), plus the NTP metrics of the primary's own monitor.
 * `workers` are those listening for the request (a worker still loading its modules would not).
 * A worker that does not answer in time (a blocked event loop, a stopped process) is served by its
 * last answer, so the sums never go down, and counted: a scrape that failed instead took the
 * primary's own series (the clock's, the workers serving) with it for as long as the worker hung.
 */
export function clusterMetricsSource(
  workers: () => Iterable<Worker>,
  options: ClusterMetricsOptions = {},
): ClusterMetricsSource {
  const timeoutMs = options.answerTimeoutMs ?? WORKER_ANSWER_TIMEOUT_MS;
  /**
   * Each worker's latest answer (a scrape's, or its final counts), to be kept as `retired` once it
   * is gone. Set as each arrives, so the latest always wins.
   */
  const lastAnswers = new Map<Worker, MetricsJson>();
  /** Workers whose counts are in `retired` (or that died unheard): never counted again. */
  const gone = new WeakSet<Worker>();
  /**
   * The counters, histograms and summaries of workers that are gone, as last heard: still added
   * in, so that the sums never go down when a worker is replaced (Prometheus would read the drop as
   * a reset, and rate() would count the other workers' whole totals again). Merged into one.
   */
  let retired: MetricsJson = [];
  /** Retirements one after the other: two scrapes at once would each merge into the same old sum. */
  let retiring = Promise.resolve();
  const retire = (answers: MetricsJson[]) => {
    retiring = retiring.then(async () => {
      retired = await AggregatorRegistry.aggregate([
        retired,
        ...answers.map((answer) => answer.filter(sumsAcrossLifetimes)),
      ]).getMetricsAsJSON();
    });
  };
  return {
    contentType: registry.contentType,
    finalAnswer(worker, metrics) {
      if (!gone.has(worker)) lastAnswers.set(worker, metrics);
    },
    async metrics() {
      const asked = [...workers()].filter((worker) => worker.isConnected() && !gone.has(worker));
      const answers = await Promise.all(
        asked.map(async (worker) => {
          const answer = await requestMetrics(worker, timeoutMs);
          if (answer === SILENT) {
            workerScrapeTimeoutsTotal.inc();
            options.onSilentWorker?.(worker);
            // Still there: its counts as last heard (none yet: left out, as before its first).
            return lastAnswers.get(worker) ?? [];
          }
          if (answer && !gone.has(worker)) lastAnswers.set(worker, answer);
          return answer;
        }),
      );
      // After the workers' answers: this scrape's timeouts are counted in it.
      const own = await Promise.all(
        [...CLOCK_METRICS, workerExitsTotal, workersServing, workerScrapeTimeoutsTotal].map(
          (metric) => metric.get(),
        ),
      );
      // Gone: exited before it answered (it was still `connected` when asked), or no longer
      // listening. One that answered this scrape is in its sum as it is: retired at the next.
      const answered = new Set(asked.filter((_, i) => answers[i] !== undefined));
      for (const worker of asked) if (!answered.has(worker)) gone.add(worker);
      const present = new Set([...workers()].filter((worker) => worker.isConnected()));
      const leaving = [...lastAnswers].filter(
        ([worker]) => !answered.has(worker) && (gone.has(worker) || !present.has(worker)),
      );
      for (const [worker] of leaving) {
        lastAnswers.delete(worker);
        gone.add(worker);
      }
      if (leaving.length > 0) retire(leaving.map(([, answer]) => answer));
      // Until no retirement is pending, a concurrent scrape's included: a worker it found gone is
      // then both in `gone` and in `retired` (it marks and queues in one step), and this scrape's
      // answer from it is not added again. Read below without a pause between the two.
      for (let pending = retiring; ; pending = retiring) {
        await pending;
        if (pending === retiring) break;
      }
      const all = answers.filter(
        (answer, i): answer is MetricsJson => answer !== undefined && !gone.has(asked[i] as Worker),
      );
      return AggregatorRegistry.aggregate([...all, retired, own as MetricsJson]).metrics();
    },
  };
}

/** A count that stays true after its process is gone: summed, and not a gauge of the present. */
const sumsAcrossLifetimes = (metric: MetricsJson[number]): boolean =>
  String(metric.type) !== 'gauge' && (metric.aggregator ?? 'sum') === 'sum';

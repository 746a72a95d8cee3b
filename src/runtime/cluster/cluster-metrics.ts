import type { Worker } from 'node:cluster';
import { AggregatorRegistry, Counter } from 'prom-client';
import { CLOCK_METRICS } from '../../clock/clock-metrics.js';
import { registry } from '../../metrics/registry.js';
import type { MetricsSource } from '../../server/metrics-listener.js';
import { isMessage, type MetricsJson, type MetricsMessage } from './messages.js';
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

/** A worker that does not answer a scrape within this fails it (partial sums would look like resets). */
const WORKER_ANSWER_TIMEOUT_MS = 5_000;

const clockMetricNames = async () =>
  new Set((await Promise.all(CLOCK_METRICS.map((metric) => metric.get()))).map(({ name }) => name));

/** In a worker: answers the primary's scrapes with this process's registry, less the NTP metrics. */
export function answerMetricsRequests(): void {
  process.on('message', (message: unknown) => {
    if (!isMessage(message, 'tsa:metrics-request')) return;
    const reply = (fields: Omit<MetricsMessage, 'type' | 'id'>) =>
      process.send?.({ type: 'tsa:metrics', id: message.id, ...fields } satisfies MetricsMessage);
    Promise.all([registry.getMetricsAsJSON(), clockMetricNames()]).then(
      ([metrics, primaryOwned]) =>
        reply({ metrics: metrics.filter(({ name }) => !primaryOwned.has(name)) }),
      (error: unknown) => reply({ error: String(error) }),
    );
  });
}

let nextRequestId = 0;

/** One worker's metrics; undefined when it exits before answering (its counts went with it). */
function requestMetrics(worker: Worker): Promise<MetricsJson | undefined> {
  const id = nextRequestId++;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      finish();
      reject(
        new RuntimeError(
          'WORKER_METRICS_TIMEOUT',
          `worker ${worker.id} did not send its metrics within 5 s`,
        ),
      );
    }, WORKER_ANSWER_TIMEOUT_MS);
    const onMessage = (message: unknown) => {
      if (!isMessage(message, 'tsa:metrics') || message.id !== id) return;
      finish();
      if (message.error !== undefined)
        reject(new RuntimeError('WORKER_METRICS_FAILED', message.error));
      else resolve(message.metrics ?? []);
    };
    const onExit = () => {
      finish();
      resolve(undefined);
    };
    const finish = () => {
      clearTimeout(timer);
      worker.off('message', onMessage);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.once('exit', onExit);
    // A worker that died before its exit is seen cannot be written to (EPIPE): its counts went too.
    worker.send({ type: 'tsa:metrics-request', id }, (error) => {
      if (error) onExit();
    });
  });
}

/**
 * In the primary: one /metrics answer for the process group. Each worker's registry is merged by
 * prom-client's AggregatorRegistry with each metric's aggregator (counters and histograms sum;
 * gauges say how, e.g. build_info `first`), plus the NTP metrics of the primary's own monitor.
 * `workers` are those listening for the request (a worker still loading its modules would not).
 */
export function clusterMetricsSource(workers: () => Iterable<Worker>): MetricsSource {
  /** Each worker's last answer, to be kept as `retired` once it is gone. */
  const lastAnswers = new Map<Worker, MetricsJson>();
  /**
   * The counters, histograms and summaries of workers that are gone, as last scraped: still added
   * in, so that the sums never go down when a worker is replaced (Prometheus would read the drop as
   * a reset, and rate() would count the other workers' whole totals again). Merged into one.
   */
  let retired: MetricsJson = [];
  return {
    contentType: registry.contentType,
    async metrics() {
      const connected = [...workers()].filter((worker) => worker.isConnected());
      const [answers, own] = await Promise.all([
        Promise.all(connected.map(requestMetrics)),
        Promise.all([...CLOCK_METRICS, workerExitsTotal].map((metric) => metric.get())),
      ]);
      const gone = [...lastAnswers].filter(([worker]) => !connected.includes(worker));
      if (gone.length > 0) {
        for (const [worker] of gone) lastAnswers.delete(worker);
        retired = await AggregatorRegistry.aggregate([
          retired,
          ...gone.map(([, answer]) => answer.filter(sumsAcrossLifetimes)),
        ]).getMetricsAsJSON();
      }
      connected.forEach((worker, i) => {
        const answer = answers[i];
        if (answer) lastAnswers.set(worker, answer);
      });
      const all = answers.filter((answer): answer is MetricsJson => answer !== undefined);
      return AggregatorRegistry.aggregate([...all, retired, own as MetricsJson]).metrics();
    },
  };
}

/** A count that stays true after its process is gone: summed, and not a gauge of the present. */
const sumsAcrossLifetimes = (metric: MetricsJson[number]): boolean =>
  String(metric.type) !== 'gauge' && (metric.aggregator ?? 'sum') === 'sum';

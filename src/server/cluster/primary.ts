import cluster, { type Worker } from 'node:cluster';
import type { FastifyBaseLogger } from 'fastify';
import type { ClockMonitor, ClockStatus } from '../../clock/clock-monitor.js';
import { createClockMonitor } from '../../clock/start-clock-monitor.js';
import type { ServeConfig } from '../../config/schema.js';
import { createMemoryKeyMaterial } from '../../signers/memory.js';
import { ANY_EXTENSION_WARNING } from '../../tsp/extension-policy.js';
import { listenAs } from '../listen-error.js';
import { metricsListenerFlags, startMetricsListener } from '../metrics-listener.js';
import { TOKEN_ACCURACY_SECONDS } from '../start.js';
import { clusterMetricsSource } from './cluster-metrics.js';
import {
  isMessage,
  WORKER_ROLE_VARIABLE,
  type ClockMessage,
  type MemoryKeyTransfer,
  type SetupMessage,
} from './messages.js';

/** The clock status is also resent this often, so a lost or late message heals by itself. */
const CLOCK_RELAY_INTERVAL_MS = 5_000;
/** A replacement worker that dies sooner than this is restarted after a pause, not in a hot loop. */
const QUICK_DEATH_MS = 5_000;
const RESTART_PAUSE_MS = 1_000;
/** Beyond --graceful-timeout, how long a draining worker may take to exit before it is killed. */
const EXIT_GRACE_MS = 5_000;

export interface RunningCluster {
  /** The address every worker serves, e.g. http://127.0.0.1:3000 */
  url: string;
  tlsUrl?: string;
  metricsUrl: string;
  /** Drains every worker (as the single process drains) and resolves once all have exited. */
  close(): Promise<void>;
}

const describeExit = (code: number | null, signal: string | null) =>
  signal ? `signal ${signal}` : `code ${code}`;

/**
 * The cluster primary (--workers > 1): forks the workers that share the port, hands them the memory
 * signer's key, runs the one NTP monitor and relays its status, serves the aggregated /metrics,
 * replaces a worker that dies, and drains them all on close.
 */
export async function startCluster(
  config: ServeConfig,
  workerCount: number,
  logger: FastifyBaseLogger,
): Promise<RunningCluster> {
  let memoryKey: MemoryKeyTransfer | undefined;
  if (config.timestampSigner === 'memory') {
    const material = await createMemoryKeyMaterial();
    memoryKey = {
      pkcs8: material.privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64'),
      chain: material.chain.map((der) => der.toString('base64')),
    };
  }

  let clock: ClockMonitor | undefined;
  const relayClock = (status: ClockStatus) => {
    for (const worker of Object.values(cluster.workers ?? {})) {
      if (worker?.isConnected()) worker.send({ type: 'tsa:clock', status } satisfies ClockMessage);
    }
  };
  if (config.allowCustomExtensions) logger.warn(ANY_EXTENSION_WARNING);
  if (config.disableNtpMonitoring) {
    logger.warn('NTP monitoring disabled: tokens are issued whatever the clock says');
  } else {
    clock = await createClockMonitor(
      { ntpMonitoring: config.ntpMonitoring, accuracySeconds: TOKEN_ACCURACY_SECONDS },
      logger,
      relayClock,
    );
  }
  /** Workers that said hello: their IPC listeners are attached. */
  const listening = new Set<Worker>();
  const metrics = await listenAs(
    () =>
      startMetricsListener({
        host: config.metricsHost || config.host,
        port: config.metricsPort,
        timeoutMs: config.readTimeout,
        source: clusterMetricsSource(() => listening),
      }),
    metricsListenerFlags(config),
    config.metricsHost || config.host,
    config.metricsPort,
  );
  logger.info(`serving metrics for ${workerCount} workers on ${metrics.url}`);
  clock?.start();
  const relayTimer = clock
    ? setInterval(() => relayClock(clock.status), CLOCK_RELAY_INTERVAL_MS).unref()
    : undefined;

  /** Replacements start only once the first workers all serve; a start-up failure stops the start. */
  let running = false;
  let shuttingDown = false;
  const restartTimers = new Set<NodeJS.Timeout>();

  /** Forks one worker; resolves with its addresses once it serves, rejects if it exits first. */
  const fork = () => {
    const worker = cluster.fork({ [WORKER_ROLE_VARIABLE]: '1' });
    const forkedAt = Date.now();
    // A send to a worker that has died but whose exit is not yet seen fails with EPIPE; unheard,
    // that 'error' would crash the primary (and every scrape or request it holds). Its exit follows.
    worker.on('error', (error) =>
      logger.warn({ worker: worker.id, err: error }, `cannot message worker ${worker.id}`),
    );
    worker.on('message', (message: unknown) => {
      // A step seen by a worker: the monitor's own check catches it (and re-runs a round), unless
      // it already did; then a new round reopens that worker's gate.
      if (isMessage(message, 'tsa:clock-jump') && clock && !clock.checkForClockJump()) {
        clock.runRound().catch(() => {});
      }
      if (!isMessage(message, 'tsa:hello')) return;
      listening.add(worker);
      worker.send({
        type: 'tsa:setup',
        ...(memoryKey ? { memoryKey } : {}),
        ...(clock ? { clock: clock.status } : {}),
      } satisfies SetupMessage);
    });
    const serving = new Promise<{ url: string; tlsUrl?: string }>((resolve, reject) => {
      const onMessage = (message: unknown) => {
        if (!isMessage(message, 'tsa:serving')) return;
        worker.off('message', onMessage);
        resolve({ url: message.url, ...(message.tlsUrl ? { tlsUrl: message.tlsUrl } : {}) });
      };
      worker.on('message', onMessage);
      worker.once('exit', (code, signal) =>
        reject(
          new Error(`worker ${worker.id} exited with ${describeExit(code, signal)} before serving`),
        ),
      );
    });
    worker.once('exit', (code, signal) => {
      listening.delete(worker);
      if (shuttingDown || !running) return;
      const lived = Date.now() - forkedAt;
      logger.error(
        { worker: worker.id, pid: worker.process.pid, code, signal },
        `worker ${worker.id} (pid ${worker.process.pid}) exited with ${describeExit(code, signal)}; starting a replacement`,
      );
      const timer = setTimeout(
        () => {
          restartTimers.delete(timer);
          if (!shuttingDown) void replace();
        },
        lived < QUICK_DEATH_MS ? RESTART_PAUSE_MS : 0,
      );
      restartTimers.add(timer);
    });
    return { worker, serving };
  };
  const replace = async () => {
    const { worker, serving } = fork();
    try {
      await serving;
      logger.info({ worker: worker.id, pid: worker.process.pid }, `worker ${worker.id} replaced`);
    } catch {
      // Its exit handler logs it and tries again.
    }
  };

  /** Tells every worker to drain; resolves once all have exited (killing stragglers). */
  const drainAll = async () => {
    shuttingDown = true;
    restartTimers.forEach(clearTimeout);
    clearInterval(relayTimer);
    const workers = Object.values(cluster.workers ?? {}).filter(
      (worker): worker is Worker => worker !== undefined,
    );
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve) => {
            if (worker.isDead()) return resolve();
            const deadline = setTimeout(() => {
              logger.warn(`worker ${worker.id} did not exit after draining; killing it`);
              worker.process.kill('SIGKILL');
            }, config.gracefulTimeout + EXIT_GRACE_MS);
            worker.once('exit', () => {
              clearTimeout(deadline);
              resolve();
            });
            if (worker.isConnected()) worker.send({ type: 'tsa:drain' });
            else worker.process.kill('SIGTERM');
          }),
      ),
    );
    await Promise.all([metrics.close(), clock?.stop()]);
  };

  const started = Array.from({ length: workerCount }, fork);
  let addresses: { url: string; tlsUrl?: string };
  try {
    [addresses] = (await Promise.all(started.map(({ serving }) => serving))) as [
      { url: string; tlsUrl?: string },
    ];
  } catch (error) {
    // Workers still starting have no drain handler yet: SIGTERM ends them at once.
    for (const { worker } of started) if (!worker.isDead()) worker.process.kill('SIGTERM');
    await drainAll();
    throw error;
  }

  running = true;
  // The audit log reopens on SIGHUP (log rotation): every worker holds the file open.
  if (config.auditLog !== '') {
    process.on('SIGHUP', () => {
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGHUP');
    });
  }
  logger.info(`serving timestamps with ${workerCount} workers on ${addresses.url}`);
  if (addresses.tlsUrl) {
    logger.info(`serving timestamps over HTTPS with ${workerCount} workers on ${addresses.tlsUrl}`);
  }
  return {
    ...addresses,
    metricsUrl: metrics.url,
    close: drainAll,
  };
}

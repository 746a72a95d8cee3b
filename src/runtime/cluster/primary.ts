import { randomBytes } from 'node:crypto';
import type { Worker } from 'node:cluster';
import type { FastifyBaseLogger } from 'fastify';
import type { ServeConfig } from '../../config/schema.js';
import { DEFAULT_PROFILE_NAME } from '../../config/profiles.js';
import { createMemoryKeyMaterial } from '../../signers/memory.js';
import { PinArbiter } from '../../signers/pkcs11/pin-gate.js';
import { ANY_EXTENSION_WARNING } from '../../tsp/extension-policy.js';
import { listenAs } from '../../server/listen-error.js';
import { loadTlsMaterial, tlsRequested, type TlsMaterial } from '../../server/tls.js';
import { metricsListenerFlags, startMetricsListener } from '../../server/metrics-listener.js';
import { clockOptionsFrom } from '../clock-monitor.js';
import { buildOrTearDown } from '../disposables.js';
import { createClockRelay, type ClockRelay } from './clock-relay.js';
import { clusterMetricsSource, workerExitsTotal, workersServing } from './cluster-metrics.js';
import {
  encodeConfig,
  isMessage,
  type MemoryKeyTransfer,
  type PinAdmissionMessage,
  type TlsTransfer,
} from './messages.js';
import { pinFiles } from './pinned-files.js';
import { createWorkerSupervisor } from './supervisor.js';

export interface RunningCluster extends AsyncDisposable {
  /** The address every worker serves, e.g. http://127.0.0.1:3000 */
  url: string;
  tlsUrl?: string;
  metricsUrl: string;
  /** Drains every worker (as the single process drains) and resolves once all have exited. */
  close(): Promise<void>;
  /**
   * Resolves with the reason once the cluster can no longer serve (no worker has served for a
   * minute, its replacements failing): the caller closes it and exits non-zero, for the
   * orchestrator to restart the process.
   */
  failed: Promise<Error>;
}

/**
 * The cluster primary (--workers > 1): forks the workers that share the port, hands them its
 * configuration, TLS material and memory signers' keys, runs the one NTP monitor and relays its
 * status, serves the aggregated /metrics, replaces a worker that dies, and drains them all on close.
 */
export async function startCluster(
  config: ServeConfig,
  workerCount: number,
  logger: FastifyBaseLogger,
  /** Stops the start-up (SIGTERM while starting): workers still starting end, serving ones drain. */
  signal?: AbortSignal,
): Promise<RunningCluster> {
  const memoryKeys = await createMemoryKeys(config);
  // Read once, here: every worker, replacements included, gets this reading, never one of its own.
  const encodedConfig = encodeConfig(config);
  const files = await pinFiles(config);
  const tls = tlsRequested(config) ? tlsTransfer(loadTlsMaterial(config)) : undefined;
  // The workers' PKCS#11 PIN offers, one at a time per token (signers/pkcs11/pin-gate.ts).
  const pins = new PinArbiter<Worker>();
  const pinKey = randomBytes(32).toString('base64');

  // Built in order, torn down last first: on close and when the start-up fails half way.
  return buildOrTearDown(async (stack) => {
    let fail: (error: Error) => void = () => undefined;
    const failed = new Promise<Error>((resolve) => (fail = resolve));
    let clock: ClockRelay | undefined;
    if (config.allowCustomExtensions) logger.warn(ANY_EXTENSION_WARNING);
    if (config.disableNtpMonitoring) {
      logger.warn('NTP monitoring disabled: tokens are issued whatever the clock says');
    } else {
      const relay = await createClockRelay(clockOptionsFrom(config), logger);
      stack.defer(() => relay.stop());
      clock = relay;
    }
    const metricsSource = clusterMetricsSource(() => workers.listening, {
      onSilentWorker: (worker) =>
        logger.warn(
          { worker: worker.id, workerPid: worker.process.pid },
          `worker ${worker.id} (pid ${worker.process.pid}) did not send its metrics within 5 s: ` +
            'its last counts are served (is its event loop blocked?)',
        ),
    });
    const workers = createWorkerSupervisor({
      workerCount,
      gracefulTimeoutMs: config.gracefulTimeout,
      logger,
      setup: () => ({
        type: 'tsa:setup',
        config: encodedConfig,
        files,
        ...(tls ? { tls } : {}),
        memoryKeys,
        ...(clock ? { clock: clock.status } : {}),
        pinKey,
      }),
      onUnexpectedExit: () => workerExitsTotal.inc(),
      onServingChange: (count) => workersServing.set(count),
      onNoWorkerServing: (error) => fail(error),
      onExit: (worker) => pins.forget(worker),
      onMessage: (message, worker) => {
        if (isMessage(message, 'tsa:clock-jump')) clock?.clockJumped();
        if (isMessage(message, 'tsa:final-metrics'))
          metricsSource.finalAnswer(worker, message.metrics);
        if (isMessage(message, 'tsa:pin-admit')) {
          void pins.admit(worker, message.scope, message.digest).then((admission) => {
            if (!worker.isConnected()) return;
            worker.send({
              type: 'tsa:pin-admission',
              id: message.id,
              admission,
            } satisfies PinAdmissionMessage);
          });
        }
        if (isMessage(message, 'tsa:pin-settled')) {
          pins.settle(message.ticket, message.answer);
        }
      },
    });
    const metrics = await listenAs(
      () =>
        startMetricsListener({
          host: config.metricsHost || config.host,
          port: config.metricsPort,
          timeoutMs: config.readTimeout,
          source: metricsSource,
        }),
      metricsListenerFlags(config),
      config.metricsHost || config.host,
      config.metricsPort,
    );
    stack.defer(() => metrics.close());
    logger.info(`serving metrics for ${workerCount} workers on ${metrics.url}`);
    clock?.start();
    // The audit log reopens on SIGHUP (log rotation): every worker holds the file open. Only those
    // that said hello, which have a SIGHUP handler: a replacement still loading would die of it
    // (it opens the file fresh anyway). Deferred before the drain, so removed after it: draining
    // workers still write their files, and are told of a rotation meanwhile.
    if (config.auditLog !== '') {
      const onHangup = (): void => {
        for (const worker of workers.listening) worker.process.kill('SIGHUP');
      };
      process.on('SIGHUP', onHangup);
      stack.defer(() => process.off('SIGHUP', onHangup));
    }
    // Drains every worker before the metrics listener closes and the clock monitor stops.
    stack.defer(async () => {
      clock?.stopResending();
      await workers.drain();
    });
    const addresses = await workers.start(signal);

    logger.info(`serving timestamps with ${workerCount} workers on ${addresses.url}`);
    if (addresses.tlsUrl) {
      logger.info(
        `serving timestamps over HTTPS with ${workerCount} workers on ${addresses.tlsUrl}`,
      );
    }
    const close = () => stack[Symbol.asyncDispose]();
    return { ...addresses, metricsUrl: metrics.url, close, failed, [Symbol.asyncDispose]: close };
  });
}

/**
 * A key and chain for each memory-signer profile, made once here so that every worker (and every
 * replacement) signs a profile's tokens with the same key; no profile shares another's.
 */
async function createMemoryKeys(config: ServeConfig): Promise<Record<string, MemoryKeyTransfer>> {
  const names = [
    ...(config.timestampSigner === 'memory' ? [DEFAULT_PROFILE_NAME] : []),
    ...(config.profiles ?? []).filter((p) => p.signer.kind === 'memory').map((p) => p.name),
  ];
  const keys: Record<string, MemoryKeyTransfer> = {};
  for (const name of names) {
    const material = await createMemoryKeyMaterial();
    keys[name] = {
      pkcs8: material.privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64'),
      chain: material.chain.map((der) => der.toString('base64')),
    };
  }
  return keys;
}

const tlsTransfer = ({ cert, key, ca }: TlsMaterial): TlsTransfer => ({
  cert: cert.toString('base64'),
  key: key.toString('base64'),
  ...(ca ? { ca: ca.toString('base64') } : {}),
});

import cluster from 'node:cluster';
import { createPrivateKey } from 'node:crypto';
import { createClockGate } from '../../clock/clock-gate.js';
import { auditPathForSlot } from '../../server/audit-log-file.js';
import { createLogger } from '../../server/logger.js';
import type { TlsMaterial } from '../../server/tls.js';
import type { MemoryKeyMaterial } from '../../signers/memory.js';
import { RuntimeError, startStoppedBySignal } from '../runtime-error.js';
import { requireTimeSync } from '../clock-monitor.js';
import { startServer, type RunningServer } from '../serve.js';
import { answerMetricsRequests, sendFinalMetrics } from './cluster-metrics.js';
import {
  decodeConfig,
  isMessage,
  WORKER_ROLE_VARIABLE,
  WORKER_SLOT_VARIABLE,
  type DrainingMessage,
  type MemoryKeyTransfer,
  type ServingMessage,
  type SetupMessage,
  type StartFailedMessage,
  type TlsTransfer,
} from './messages.js';
import type { ServeConfig } from '../../config/schema.js';
import { checkPinnedFiles } from './pinned-files.js';
import { primaryPinGate } from './pin-gate-client.js';
import { RelayedClock } from './relayed-clock.js';

/** This process was forked by our cluster primary (not, say, by another process manager's). */
export const isClusterWorker = (): boolean =>
  cluster.isWorker && process.env[WORKER_ROLE_VARIABLE] === '1';

const toMaterial = (transfer: MemoryKeyTransfer): MemoryKeyMaterial => ({
  privateKey: createPrivateKey({
    key: Buffer.from(transfer.pkcs8, 'base64'),
    format: 'der',
    type: 'pkcs8',
  }),
  chain: transfer.chain.map((der) => Buffer.from(der, 'base64')),
});

const fromTlsTransfer = ({ cert, key, ca }: TlsTransfer): TlsMaterial => ({
  cert: Buffer.from(cert, 'base64'),
  key: Buffer.from(key, 'base64'),
  ...(ca ? { ca: Buffer.from(ca, 'base64') } : {}),
});

/**
 * The primary's configuration with this worker's own --audit-log file (one writer per file), or
 * undefined without a slot: never the shared path, where two writers cut each other's records.
 */
function workerConfig(config: ServeConfig): ServeConfig | undefined {
  if (config.auditLog === '') return config;
  const slot = Number(process.env[WORKER_SLOT_VARIABLE]);
  if (!Number.isSafeInteger(slot) || slot < 1) return undefined;
  return { ...config, auditLog: auditPathForSlot(config.auditLog, slot) };
}

function receiveSetup(): Promise<SetupMessage> {
  return new Promise((resolve) => {
    const onMessage = (message: unknown) => {
      if (!isMessage(message, 'tsa:setup')) return;
      process.off('message', onMessage);
      resolve(message);
    };
    process.on('message', onMessage);
    process.send?.({ type: 'tsa:hello' });
  });
}

/**
 * Feeds `clock` the primary's clock status, the setup's and each relayed one, in the order they
 * arrive. The setup is awaited: applied after the await, its status overwrote one relayed just
 * after it (a round that ended as this worker said hello), and the worker issued on the older
 * verdict until the next resend.
 */
export function followClockStatus(
  clock: Pick<RelayedClock, 'update'>,
  messages: Pick<NodeJS.EventEmitter, 'on'> = process,
): void {
  messages.on('message', (message: unknown) => {
    if (isMessage(message, 'tsa:clock')) clock.update(message.status);
    if (isMessage(message, 'tsa:setup') && message.clock) clock.update(message.clock);
  });
}

/**
 * A cluster worker: the single-process server (runtime/serve.ts) with the primary's configuration,
 * TLS material and memory keys, a clock gate fed by the primary's NTP monitor and no metrics
 * listener of its own. It loads no configuration itself, and refuses to serve if a file it reads
 * (key, chain) is not as the primary read it. Drains on the primary's word, on SIGTERM/SIGINT (a
 * terminal's Ctrl-C reaches the whole group) or when the primary is gone; exits 0 once drained.
 */
export async function runWorker(): Promise<void> {
  // First, before the hello: the primary passes SIGHUP (audit log rotation) to every worker that
  // said hello, and one still starting would die of it. A reopen before the log is open is not
  // needed (it opens fresh). The executable (cli/timestamp-server.ts) ignores it from the first
  // line already, for a hang-up of the process group while the modules load; this holds where
  // runWorker is started otherwise.
  process.on('SIGHUP', () => undefined);
  const id = cluster.worker?.id ?? 0;
  const clock = new RelayedClock(() => process.send?.({ type: 'tsa:clock-jump' }));
  followClockStatus(clock);
  answerMetricsRequests();
  // Asked to stop before the start-up begins: nothing is in flight. Replaced as it begins.
  let drain: (why: string) => void = () => process.exit(0);
  process.on('message', (message: unknown) => {
    if (isMessage(message, 'tsa:drain')) drain('asked by the primary');
  });
  // node's cluster child exits at once (code 0, no teardown, in-flight requests cut) when the
  // primary goes, unless the worker object says it exits after a disconnect: its own 'disconnect'
  // listener reads this flag first (lib/internal/cluster/child.js, Node 20 to 24; the primary's
  // copy of the flag is its own). This process drains instead.
  if (cluster.worker) cluster.worker.exitedAfterDisconnect = true;
  process.once('disconnect', () => drain('the primary is gone'));
  // A message sent as the primary goes (a metrics answer, a clock jump, node's own listen request)
  // fails with EPIPE or ERR_IPC_CHANNEL_CLOSED; unheard, that 'error' would crash this worker
  // instead of draining it. node's cluster child re-emits the process's 'error' on cluster.worker
  // (lib/internal/cluster/child.js), where it throws unless heard: it is heard there. Before the
  // setup there is no logger (its settings are the primary's); 'disconnect' follows.
  const ipcErrors: NodeJS.EventEmitter = cluster.worker ?? process;
  const beforeSetup = () => undefined;
  ipcErrors.on('error', beforeSetup);

  const setup = await receiveSetup();
  const primaryConfig = decodeConfig(setup.config);
  const logger = createLogger(primaryConfig.logType, primaryConfig.logLevel).child({
    worker: id,
    pid: process.pid,
  });
  const config = workerConfig(primaryConfig);
  if (!config) {
    logger.fatal(`cannot start: ${WORKER_SLOT_VARIABLE} is not a worker slot number`);
    logger.flush();
    process.exit(1);
  }
  ipcErrors.on('error', (error) => logger.warn({ err: error }, 'cannot message the primary'));
  ipcErrors.off('error', beforeSetup);
  if (!config.disableNtpMonitoring) clock.start();
  // Asked to stop while starting: the start-up is abandoned while no listener accepts (nothing is
  // in flight: exit 0 at once); once one may, it completes and drains at once (start-gate.ts).
  const stopStart = new AbortController();
  let stoppedWhy: string | undefined;
  drain = (why: string) => {
    if (stoppedWhy !== undefined) return;
    stoppedWhy = why;
    logger.info(`${why} while starting: stopping the start-up`);
    stopStart.abort(startStoppedBySignal());
  };
  let server: RunningServer;
  try {
    server = await startServer(config, logger, {
      stop: stopStart.signal,
      signerDependencies: { pkcs11PinGate: primaryPinGate(Buffer.from(setup.pinKey, 'base64')) },
      memoryKeys: new Map(
        Object.entries(setup.memoryKeys).map(([name, key]) => [name, toMaterial(key)]),
      ),
      ...(setup.tls ? { tls: fromTlsTransfer(setup.tls) } : {}),
      worker: {
        id,
        beforeListen: async () => {
          await checkPinnedFiles(setup.files);
          // A listener may accept from now on: SIGTERM (the primary's, to a worker still starting)
          // drains it; until here its default action ends the worker, with nothing in flight.
          // on, not once: a second Ctrl-C with no listener would end the worker mid-drain.
          process.on('SIGTERM', () => drain('received SIGTERM'));
          process.on('SIGINT', () => drain('received SIGINT'));
        },
        clockGate: config.disableNtpMonitoring
          ? undefined
          : createClockGate(clock, { requireTimeSync: requireTimeSync(config) }),
        clock: config.disableNtpMonitoring ? undefined : clock,
        saysForAll: process.env[WORKER_SLOT_VARIABLE] === '1',
      },
    });
  } catch (error) {
    if (stoppedWhy !== undefined) {
      if (!(error instanceof RuntimeError && error.code === 'START_STOPPED'))
        logger.info(`the start-up ended with: ${errorMessage(error)}`);
      logger.flush();
      process.exit(0);
    }
    logger.fatal(`cannot start: ${errorMessage(error)}`);
    logger.debug({ err: error }, 'start-up failure');
    logger.flush();
    const exit = () => process.exit(1);
    // Exits once the reason is sent (or cannot be: the primary is gone); 1 however it ends.
    process.exitCode = 1;
    if (!process.send || !process.connected) return exit();
    const failed: StartFailedMessage = { type: 'tsa:start-failed', reason: errorMessage(error) };
    process.send(failed, undefined, {}, exit);
    return;
  }

  let draining = false;
  drain = (why: string) => {
    if (draining) {
      logger.info(`${why}, a drain is already under way: waiting for it to end`);
      return;
    }
    draining = true;
    logger.info(`${why}, draining`);
    if (process.connected) process.send?.({ type: 'tsa:draining' } satisfies DrainingMessage);
    void (async () => {
      let status = 0;
      try {
        await server.close();
      } catch (error) {
        logger.error({ err: error }, 'shutdown failed');
        status = 1;
      }
      // The primary keeps this worker's counts once it is gone (when there still is a primary).
      await sendFinalMetrics().catch((error: unknown) =>
        logger.warn({ err: error }, 'cannot send the final metrics to the primary'),
      );
      logger.flush();
      process.exit(status);
    })();
  };
  if (stoppedWhy !== undefined) {
    drain(`${stoppedWhy}: started all the same`);
    return;
  }
  process.send?.({
    type: 'tsa:serving',
    url: server.url,
    ...(server.tlsUrl ? { tlsUrl: server.tlsUrl } : {}),
  } satisfies ServingMessage);
}

const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error));

import type { FastifyBaseLogger } from 'fastify';
import type { ServeConfig } from '../config/schema.js';
import { DEFAULT_PROFILE_NAME } from '../config/profiles.js';
import type { Signer } from '../crypto/signer.js';
import { openPkcs11Key, type SignerDependencies } from '../signers/create-signer.js';
import type { MemoryKeyMaterial } from '../signers/memory.js';
import { isPkcs11Uri } from '../signers/pkcs11/pkcs11-uri.js';
import { localPinGate } from '../signers/pkcs11/pin-gate.js';
import type { TimestampAuthority, GrantedOutcome } from '../tsp/authority.js';
import { ANY_EXTENSION_WARNING } from '../tsp/extension-policy.js';
import type { IssuanceGuard } from '../tsp/guards.js';
import { trackCertificateValidity } from '../server/certificate-validity-metric.js';
import type { Certificate } from '../x509/certificate.js';
import type { ClockMonitor, ClockStatus } from '../clock/clock-monitor.js';
import { createClockGate } from '../clock/clock-gate.js';
import { timeSourceSnapshot } from '../clock/time-source-snapshot.js';
import { watchCertificateExpiry, watchTlsCertificateExpiry } from './certificate-expiry.js';
import { clockOptionsFrom, createClockMonitor, requireTimeSync } from './clock-monitor.js';
import { openProcessLedger, type ProcessLedger } from '../ledger/process-ledger.js';
import { buildServer, openListenerShared, type TsaServer } from '../server/app.js';
import { stoppableAnchoring, type ProcessAnchoring } from './anchoring.js';
import { createAuthority } from './authority.js';
import { buildOrTearDown, type DisposableStack } from './disposables.js';
import { createNamedProfiles, createTrustedRoot } from './profiles.js';
import { startStoppedBySignal } from './runtime-error.js';
import { startGate, type StartGate } from './start-gate.js';
import type { OpenAuditFile } from '../server/audit-log-file.js';
import type { AuditLogOptions } from '../server/audit-log.js';
import { observeCertificateChains, startRuntimeMetrics } from '../server/http-metrics.js';
import { enforceStreamTimeouts } from '../server/http2-stream-timeouts.js';
import { answerPlainHttp } from '../server/plain-http-answer.js';
import { reportTlsHandshakeFailures } from '../server/tls-handshake-failures.js';
import {
  applyConnectionLimits,
  closeGracefully,
  listenBacklog,
  trackConnections,
  type DrainedListener,
} from '../server/listeners.js';
import { listenAs } from '../server/listen-error.js';
import { metricsListenerFlags, startMetricsListener } from '../server/metrics-listener.js';
import { createServingState, type ServingState } from '../server/serving-state.js';
import { loadTlsMaterial, tlsRequested, type TlsMaterial } from '../server/tls.js';
import type { Transport } from '../server/transport.js';

// Where the tests have always imported them from; they live in authority.ts.
export { createAuthority, selfTest } from './authority.js';

export interface RunningServer extends AsyncDisposable {
  app: TsaServer;
  /** The default profile's. */
  authority: TimestampAuthority;
  signer: Signer;
  chain: Certificate[];
  /** The named profiles (config file `profiles:`), in file order. */
  profiles: { name: string; authority: TimestampAuthority; signer: Signer; chain: Certificate[] }[];
  /** The NTP monitor behind the clock gate; undefined with --disable-ntp-monitoring. */
  clock: ClockMonitor | undefined;
  /** The address the server listens on, e.g. http://127.0.0.1:3000 */
  url: string;
  /** The HTTPS (HTTP/2) listener's address, when TLS is configured. */
  tlsUrl?: string;
  /** The Prometheus endpoint, e.g. http://127.0.0.1:2112/metrics */
  metricsUrl: string;
  state: ServingState;
  /** Graceful: /readyz turns 503, listeners stop accepting, in-flight requests get --graceful-timeout. */
  close(): Promise<void>;
}

/** How a cluster worker differs from the single process: the primary serves /metrics and runs NTP. */
export interface WorkerRole {
  /** cluster.worker.id, for the logs. */
  id: number;
  /** The clock gate fed by the primary's NTP monitor; undefined with --disable-ntp-monitoring. */
  clockGate: IssuanceGuard | undefined;
  /** The primary's clock status as relayed (tokens record it); undefined without monitoring. */
  clock?: { readonly status: ClockStatus } | undefined;
  /**
   * Run once every file is read and before the port is shared (a worker checks that the files it
   * read are the primary's); a rejection stops the start-up.
   */
  beforeListen?: () => Promise<void>;
  /**
   * This worker logs what concerns every worker alike (a chain or HTTPS certificate about to end),
   * once for the cluster: the worker of slot 1, replacements included.
   */
  saysForAll?: boolean;
}

export interface StartOptions {
  /** Without memoryKey: a memory key is one profile's, given in memoryKeys. */
  signerDependencies?: Omit<SignerDependencies, 'memoryKey'>;
  /**
   * Memory-signer keys made elsewhere (the cluster primary's), by profile name (`default` for the
   * top level); a memory profile without one makes its own.
   */
  memoryKeys?: ReadonlyMap<string, MemoryKeyMaterial>;
  /** Set in a cluster worker (--workers > 1). */
  worker?: WorkerRole;
  /** The TLS listener's material read elsewhere (the cluster primary's), instead of the files. */
  tls?: TlsMaterial;
  /** How --audit-log's file is opened (tests count and fail opens). */
  openAuditFile?: OpenAuditFile;
  /** --audit-log's bounds, deadline and clock (tests make them small and settle them by hand). */
  auditLog?: Omit<AuditLogOptions, 'openFile'>;
  /**
   * Stops the start-up (SIGTERM or SIGINT while starting): rejects at once with START_STOPPED
   * while no listener accepts yet; from the first listen on, the start-up completes all the same
   * and the caller drains it (start-gate.ts).
   */
  stop?: AbortSignal;
}

export async function startServer(
  config: ServeConfig,
  logger: FastifyBaseLogger,
  options: StartOptions = {},
): Promise<RunningServer> {
  // Each long-lived thing joins the stack as it is built: a start-up that fails half way tears
  // down what was built, last first; close() does the same once the listeners have drained.
  if (options.stop?.aborted) throw startStoppedBySignal();
  const gate = startGate(options.stop);
  return gate.untilListening(
    buildOrTearDown((stack) => serve(config, logger, options, stack, gate)),
  );
}

async function serve(
  config: ServeConfig,
  logger: FastifyBaseLogger,
  options: StartOptions,
  stack: DisposableStack,
  gate: StartGate,
): Promise<RunningServer> {
  const { worker } = options;
  // Built (an invalid NTP configuration stops the start-up) before the authority it gates;
  // started once the server is about to listen.
  const clock =
    config.disableNtpMonitoring || worker
      ? undefined
      : await createClockMonitor(clockOptionsFrom(config), logger);
  if (clock) stack.defer(() => clock.stop());
  const clockGate =
    worker?.clockGate ??
    (clock && createClockGate(clock, { requireTimeSync: requireTimeSync(config) }));
  const clockView = worker ? worker.clock : clock;
  const followAccuracy = config.accuracy.trim().toLowerCase() === 'auto';
  const timeSource =
    clockView && (() => timeSourceSnapshot(clockView.status, config.timeSource, followAccuracy));
  // A named profile declares its own accuracy, --accuracy auto or not.
  const profileTimeSource =
    clockView && (() => timeSourceSnapshot(clockView.status, config.timeSource, false));
  // Before the authority (its guard refuses issuance while the database is down); closed after
  // the listeners, so their last tokens are committed.
  // Anchoring needs the authority, built after the ledger: bound below.
  let anchoring: ProcessAnchoring | undefined;
  // Every PKCS#11 key of this server offers its token's PIN through one gate (a cluster worker's
  // leads to the primary): a wrong PIN costs the HSM one attempt, not one per key.
  const pkcs11PinGate = options.signerDependencies?.pkcs11PinGate ?? localPinGate();
  const logKey =
    config.ledgerUrl !== '' && isPkcs11Uri(config.ledgerKey)
      ? stack.use(
          await openPkcs11Key(
            config.ledgerKey,
            config.pkcs11Timeout,
            (message) => logger.warn(message),
            pkcs11PinGate,
          ),
        )
      : undefined;
  const ledger: ProcessLedger | undefined = stack.use(
    await openProcessLedger(config, logger, (checkpoint) => anchoring?.offer(checkpoint), logKey),
  );
  // Before the authority too (its guard refuses issuance while the audit queue is full); closed
  // after the listeners: their last requests' lines are written.
  const shared = stack.use(
    await openListenerShared(config, logger, {
      ...options.auditLog,
      ...(options.openAuditFile ? { openFile: options.openAuditFile } : {}),
    }),
  );
  const auditGuard = shared.auditLog?.guard;
  const guards = [
    ...(clockGate ? [clockGate] : []),
    ...(ledger ? [ledger.guard] : []),
    ...(auditGuard ? [auditGuard] : []),
  ];
  // A profile's own memory key, never another's (each profile has its own chain).
  const signerDependencies = (profile: string): SignerDependencies => {
    const memoryKey = options.memoryKeys?.get(profile);
    return { ...options.signerDependencies, pkcs11PinGate, ...(memoryKey ? { memoryKey } : {}) };
  };
  const { authority, signer, chain, chainPem, chainValid } = await createAuthority(
    config,
    logger,
    signerDependencies(DEFAULT_PROFILE_NAME),
    guards,
    undefined,
    timeSource,
  );
  stack.use(signer);
  if (ledger?.log) {
    const started = stoppableAnchoring({
      intervalMs: config.ledgerAnchorInterval,
      issue: async (request) => {
        let logIndex: number | undefined;
        const record = async (granted: GrantedOutcome) => {
          logIndex = (await ledger.record(granted)).index;
        };
        const outcome = await authority.issue(request, 'der', { record });
        return outcome.status === 'granted' ? logIndex : undefined;
      },
      warn: (fields, message) => logger.warn(fields, message),
    });
    // Stopped before the signer is disposed; the ledger, closed after it, may still offer one.
    stack.defer(() => started.stop());
    anchoring = started;
  }
  // One authority per named profile, each with its own signer, chain and breaker, and the shared
  // guards (the clock gate, the ledger).
  const profiles = await createNamedProfiles(
    config,
    logger,
    (profile) =>
      createAuthority(
        config,
        logger,
        signerDependencies(profile.name),
        guards,
        profile,
        profileTimeSource,
      ),
    stack,
  );
  const trustedRoot = await createTrustedRoot(config, chain, profiles, (message) =>
    logger.warn(message),
  );
  const watchedChains = [
    { chain },
    ...profiles.map((profile) => ({ profile: profile.name, chain: profile.chain })),
  ];
  observeCertificateChains(watchedChains.map((watched) => watched.chain));
  if (profiles.length > 0) {
    trackCertificateValidity(() => chainValid() && profiles.every((p) => p.chainValid()));
  }
  startRuntimeMetrics();
  const state = createServingState();
  const tls = options.tls ?? (tlsRequested(config) ? loadTlsMaterial(config) : undefined);
  // Said by one process of a cluster (the worker of slot 1), not once per worker.
  if (!worker || worker.saysForAll) {
    stack.defer(watchCertificateExpiry(watchedChains, logger));
    if (tls) stack.defer(watchTlsCertificateExpiry(tls.cert, logger));
  }
  const metrics = worker
    ? undefined
    : await listenAs(
        () =>
          startMetricsListener({
            host: config.metricsHost || config.host,
            port: config.metricsPort,
            timeoutMs: config.readTimeout,
          }),
        metricsListenerFlags(config),
        config.metricsHost || config.host,
        config.metricsPort,
      );
  if (metrics) {
    stack.defer(() => metrics.close());
    logger.info(`serving metrics on ${metrics.url}`);
  }
  if (config.disableNtpMonitoring && !worker) {
    logger.warn('NTP monitoring disabled: tokens are issued whatever the clock says');
  }
  if (config.allowCustomExtensions && !worker) logger.warn(ANY_EXTENSION_WARNING);
  clock?.start();
  // A worker's lines must not read as the process group's (the primary announces the address).
  const announce = worker ? `worker ${worker.id} ` : '';
  const listeners: DrainedListener[] = [];
  // Graceful: /readyz turns 503, listeners stop accepting, in-flight requests get --graceful-timeout.
  stack.defer(async () => {
    state.draining = true;
    await closeGracefully(listeners, config.gracefulTimeout, logger);
  });
  // One app per listener, all over the same authority, profiles, state and shared pieces.
  const buildListener = async (transport: Transport): Promise<TsaServer> => {
    const built = await buildServer({
      config,
      authority,
      chainPem,
      profiles,
      trustedRoot,
      logger,
      state,
      shared,
      ledger,
      transport,
    });
    applyConnectionLimits(built.server, config, logger);
    listeners.push({ app: built, connections: trackConnections(built.server) });
    return built;
  };
  const app = await buildListener({ kind: 'http', pingOnly: config.httpPingOnly });
  await worker?.beforeListen?.();
  // From here on a stop waits for the start-up, then drains it: this listener may accept.
  gate.listening();
  const backlog = listenBacklog();
  const url = await listenAs(
    () => app.listen({ host: config.host, port: config.port, backlog }),
    { host: '--host', port: '--port' },
    config.host,
    config.port,
  );
  let tlsUrl: string | undefined;
  if (tls) {
    const tlsApp = await buildListener({ kind: 'https', tls });
    reportTlsHandshakeFailures(tlsApp.server, logger);
    answerPlainHttp(tlsApp.server);
    enforceStreamTimeouts(tlsApp.server, {
      readTimeoutMs: config.readTimeout,
      writeTimeoutMs: config.writeTimeout,
    });
    const tlsHost = config.tlsHost || config.host;
    tlsUrl = await listenAs(
      () => tlsApp.listen({ host: tlsHost, port: config.tlsPort, backlog }),
      { host: config.tlsHost ? '--tls-host' : '--host', port: '--tls-port' },
      tlsHost,
      config.tlsPort,
    );
  }
  // Announced once every listener is bound: a --tls-port in use fails the start-up, and a line
  // saying the server serves must not come before that.
  logger.info(
    { signer: signer.id, algorithm: signer.algorithm.oid },
    config.httpPingOnly
      ? `${announce}serving /ping and the health probes only (--http-ping-only) on ${url}`
      : `${announce}serving timestamps on ${url}`,
  );
  if (tlsUrl) {
    logger.info(
      `${announce}serving timestamps over HTTPS (HTTP/2, HTTP/1.1${tls?.ca ? ', client certificates required' : ''}) on ${tlsUrl}`,
    );
  }
  return {
    app,
    authority,
    signer,
    chain,
    profiles,
    clock,
    url,
    ...(tlsUrl ? { tlsUrl } : {}),
    metricsUrl: metrics?.url ?? '',
    state,
    close: () => stack[Symbol.asyncDispose](),
    [Symbol.asyncDispose]: () => stack[Symbol.asyncDispose](),
  };
}

import { randomBytes, verify } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { oid, toHex } from '../asn1/der.js';
import type { ServeConfig } from '../config/schema.js';
import { signerConfigFrom } from '../config/signer-config.js';
import { DEFAULT_PROFILE_NAME, type ProfileConfig } from '../config/profiles.js';
import { nodeSignatureArguments } from '../crypto/key-algorithms.js';
import type { Signer } from '../crypto/signer.js';
import { createSigner, openPkcs11Key, type SignerDependencies } from '../signers/create-signer.js';
import type { MemoryKeyMaterial } from '../signers/memory.js';
import { isPkcs11Uri } from '../signers/pkcs11/pkcs11-uri.js';
import { localPinGate } from '../signers/pkcs11/pin-gate.js';
import { TimestampAuthority, type GrantedOutcome } from '../tsp/authority.js';
import { certificateValidityGuard } from '../tsp/certificate-validity-guard.js';
import { acceptedExtensionSet, ANY_EXTENSION_WARNING } from '../tsp/extension-policy.js';
import { TokenProfileError } from '../tsp/profile-error.js';
import { signerAvailabilityGuard, type IssuanceGuard } from '../tsp/guards.js';
import { ChainRuleError, keyMismatch, verifyCertChain } from '../x509/chain-rules.js';
import { tsaKeyWarnings } from '../x509/csbr.js';
import { trackCertificateValidity } from '../server/certificate-validity-metric.js';
import { parseCertificate, type Certificate } from '../x509/certificate.js';
import { encodePem } from '../x509/pem.js';
import type { ClockMonitor, ClockStatus } from '../clock/clock-monitor.js';
import { createClockGate } from '../clock/clock-gate.js';
import { timeSourceSnapshot } from '../clock/time-source-snapshot.js';
import type { TimeSourceSnapshot } from '../tsp/time-source.js';
import { clockOptionsFrom, createClockMonitor } from './clock-monitor.js';
import { openProcessLedger, type ProcessLedger } from '../ledger/process-ledger.js';
import { createAnchoring } from '../ledger/anchor.js';
import type { StoredCheckpoint } from '../ledger/log-store.js';
import { buildServer, openListenerShared, type TsaServer } from '../server/app.js';
import { buildOrTearDown, type DisposableStack } from './disposables.js';
import { createNamedProfiles, createTrustedRoot } from './profiles.js';
import { RuntimeError } from './runtime-error.js';
import type { OpenAuditFile } from '../server/audit-log.js';
import { observeCertificateChain, startRuntimeMetrics } from '../server/http-metrics.js';
import { enforceStreamTimeouts } from '../server/http2-stream-timeouts.js';
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

const EMPTY = new Uint8Array(0);

/** The accuracy every token declares; the clock gate holds the clock to it. */
export const TOKEN_ACCURACY_SECONDS = 1;

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
}

/** Refuses to start with a leaf whose key is not the signer's, or a signer that cannot sign. */
export async function selfTest(signer: Signer, leaf: Certificate): Promise<void> {
  const spki = (key: typeof signer.publicKey) => key.export({ type: 'spki', format: 'der' });
  if (!spki(leaf.x509.publicKey).equals(spki(signer.publicKey))) {
    throw new ChainRuleError(
      'KEY_MISMATCH',
      keyMismatch(leaf.x509.publicKey, signer.publicKey, { signerSource: signer.id }),
    );
  }
  const probe = randomBytes(32);
  const signature = await signer.sign(probe);
  const [digest, key] = nodeSignatureArguments(signer.algorithm, signer.publicKey);
  if (!verify(digest, probe, key, signature)) {
    throw new RuntimeError(
      'SELF_TEST_FAILED',
      `signer ${signer.id} self-test failed: its signature does not verify`,
    );
  }
}

/** Refuse issuance while the signer says it would refuse (a remote signer's open circuit breaker). */
function signerGuards(signer: Signer): IssuanceGuard[] {
  const { unavailableReason, unavailableIsTemporary, unavailableForMs } = signer;
  if (!unavailableReason) return [];
  return [
    signerAvailabilityGuard(
      () => unavailableReason.call(signer),
      () => unavailableIsTemporary?.call(signer) ?? true,
      () => unavailableForMs?.call(signer),
    ),
  ];
}

/**
 * Builds the TSA from the configuration (signer, chain, policy) without listening: the default
 * profile's, or the named `profile`'s (config file `profiles:`). Its guards, in the order checked:
 * the signer's availability, the chain's validity, then `guards` (the clock).
 */
export async function createAuthority(
  config: ServeConfig,
  logger: FastifyBaseLogger,
  signerDependencies: SignerDependencies = {},
  guards: readonly IssuanceGuard[] = [],
  profile?: ProfileConfig,
  timeSource?: () => TimeSourceSnapshot | undefined,
) {
  const signerConfig = profile?.signer ?? signerConfigFrom(config);
  const chainPath = profile ? profile.certificateChainPath : config.certificateChainPath;
  const named = profile ? `profile ${profile.name}: ` : '';
  const { signer, chain: chainDer } = await createSigner(signerConfig, {
    warn: (message) => logger.warn(`${named}${message}`),
    ...signerDependencies,
  });
  // The signer may hold a client (KMS): a chain or self-test that refuses it must release it.
  try {
    verifyCertChain(chainDer, signer.publicKey, {
      enforceIntermediateEku: config.enforceIntermediateEku,
      chainSource: `${named}chain ${chainPath || '(memory)'}`,
      signerSource: `key ${signer.id}`,
    });
    if (signerConfig.kind === 'memory') {
      logger.warn(
        `${named}using the in-memory signer: a new key and chain at every start, for testing only`,
      );
    }
    for (const warning of tsaKeyWarnings(signer.algorithm, signer.publicKey, chainDer[0] ?? EMPTY))
      logger.warn(warning);
    const chain = chainDer.map(parseCertificate);
    const leaf = chain[0];
    if (!leaf)
      throw new TokenProfileError(
        'NO_LEAF_CERTIFICATE',
        'certificate chain must contain a leaf certificate',
      );
    await selfTest(signer, leaf);
    const validity = certificateValidityGuard(
      chain.map(({ x509 }) => ({
        name: x509.subject.replace(/\n/g, ', '),
        notBefore: new Date(x509.validFrom),
        notAfter: new Date(x509.validTo),
      })),
    );
    const policies = profile ? profile.policyOids : config.acceptedPolicyOids;
    const acceptedPolicies = new Set(policies.map((dotted) => toHex(oid(dotted))));
    const authority = new TimestampAuthority({
      profile: {
        signer,
        chain,
        defaultPolicy: oid(profile ? profile.policyOids[0]! : config.defaultPolicyOid),
        accuracySeconds: profile?.accuracySeconds ?? TOKEN_ACCURACY_SECONDS,
        // A profile's own accuracy wins over the top-level --accuracy.
        ...(profile?.accuracySeconds === undefined ? fixedAccuracy(config) : {}),
        includeChain: profile ? profile.includeChain : config.includeChainInResponse,
        // Unset: check what comes back from outside the process (Signer.keyOutsideProcess).
        verifySignatures: config.verifyTokens ?? signer.keyOutsideProcess,
      },
      policy: {
        acceptedPolicies,
        allowCustomExtensions: config.allowCustomExtensions,
        acceptedExtensions: acceptedExtensionSet(config.acceptedExtensionOids),
      },
      guards: [...signerGuards(signer), validity, ...guards],
      ...(timeSource ? { timeSource } : {}),
      ...(config.profiles?.length ? { name: profile?.name ?? DEFAULT_PROFILE_NAME } : {}),
    });
    const chainPem = chain.map((certificate) => encodePem('CERTIFICATE', certificate.der)).join('');
    const chainValid = () => validity() === undefined;
    if (!profile) trackCertificateValidity(chainValid);
    return { authority, signer, chain, chainPem, acceptedPolicies, chainValid };
  } catch (error) {
    await Promise.resolve(signer[Symbol.asyncDispose]()).catch(() => undefined);
    throw error;
  }
}

/** --accuracy as a fixed value in ms; auto leaves the default until the clock has measured. */
function fixedAccuracy(config: ServeConfig): { accuracyMs?: number } {
  const accuracy = clockOptionsFrom(config).accuracyMs;
  return accuracy === 'auto' ? {} : { accuracyMs: accuracy };
}

/** The gate's strictness: --require-nts implies --require-time-sync (see docs/clock.md). */
export const requireTimeSync = (config: ServeConfig) => config.requireTimeSync || config.requireNts;

export async function startServer(
  config: ServeConfig,
  logger: FastifyBaseLogger,
  options: StartOptions = {},
): Promise<RunningServer> {
  // Each long-lived thing joins the stack as it is built: a start-up that fails half way tears
  // down what was built, last first; close() does the same once the listeners have drained.
  return buildOrTearDown((stack) => serve(config, logger, options, stack));
}

async function serve(
  config: ServeConfig,
  logger: FastifyBaseLogger,
  options: StartOptions,
  stack: DisposableStack,
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
  let anchor: ((checkpoint: StoredCheckpoint) => void) | undefined;
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
    await openProcessLedger(config, logger, (checkpoint) => anchor?.(checkpoint), logKey),
  );
  const guards = [...(clockGate ? [clockGate] : []), ...(ledger ? [ledger.guard] : [])];
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
    const record = async (granted: GrantedOutcome) => void (await ledger.record(granted));
    anchor = createAnchoring({
      intervalMs: config.ledgerAnchorInterval,
      issue: async (request) =>
        (await authority.issue(request, 'der', { record })).status === 'granted',
      warn: (fields, message) => logger.warn(fields, message),
    });
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
  if (profiles.length > 0) {
    observeCertificateChain([...chain, ...profiles.flatMap((profile) => profile.chain)]);
    trackCertificateValidity(() => chainValid() && profiles.every((p) => p.chainValid()));
  } else observeCertificateChain(chain);
  startRuntimeMetrics();
  const state = createServingState();
  const tls = options.tls ?? (tlsRequested(config) ? loadTlsMaterial(config) : undefined);
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
  // Closed after the listeners: their last requests' lines are written.
  const shared = stack.use(await openListenerShared(config, logger, options.openAuditFile));
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
    applyConnectionLimits(built.server, config);
    listeners.push({ app: built, connections: trackConnections(built.server) });
    return built;
  };
  const app = await buildListener({ kind: 'http', pingOnly: config.httpPingOnly });
  await worker?.beforeListen?.();
  const backlog = listenBacklog();
  const url = await listenAs(
    () => app.listen({ host: config.host, port: config.port, backlog }),
    { host: '--host', port: '--port' },
    config.host,
    config.port,
  );
  logger.info(
    { signer: signer.id, algorithm: signer.algorithm.oid },
    config.httpPingOnly
      ? `${announce}serving /ping and the health probes only (--http-ping-only) on ${url}`
      : `${announce}serving timestamps on ${url}`,
  );
  let tlsUrl: string | undefined;
  if (tls) {
    const tlsApp = await buildListener({ kind: 'https', tls });
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
    logger.info(
      `${announce}serving timestamps over HTTPS (HTTP/2, HTTP/1.1${tls.ca ? ', client certificates required' : ''}) on ${tlsUrl}`,
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

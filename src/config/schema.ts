import { GO_ONLY_OPTIONS } from './go-only-options.js';
import { choice, option, type ChoiceSpec, type OptionSpec } from './option-spec.js';

/**
 * Every server option, its flag name (the Go server's), default and meaning, in one place.
 * The Config type, the commander flags and (later) the file/env layers all derive from it.
 */

export const SIGNER_TYPES = ['memory', 'file', 'kms', 'tink', 'pkcs11'] as const;
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
export const SIGNER_HASHES = ['auto', 'sha256', 'sha384', 'sha512'] as const;

/** Longest --kms-timeout and --pkcs11-timeout: a signature waited for longer holds its request past any client's patience. */
export const MAX_KMS_TIMEOUT_MS = 5 * 60_000;
/** Longest --kms-breaker-cooldown: an open breaker refuses all issuance until it probes again. */
export const MAX_KMS_BREAKER_COOLDOWN_MS = 60 * 60_000;

/**
 * Longest --read-timeout, --write-timeout, --cleanup-timeout and --graceful-timeout: a day is past
 * any use, and far below the 2^31-1 ms (24.8 days) past which Node's timers fire after 1 ms
 * instead, which would cut a drain or a connection at once. --rate-limit-window arms no timer; it
 * takes no more than a day either (a longer window is a ban, not a rate).
 */
export const MAX_TIMEOUT_MS = 24 * 60 * 60_000;

/** The largest TCP port; 0 asks the system for any free one. */
export const MAX_PORT = 65_535;

export const SERVE_OPTIONS = {
  host: option({
    flag: 'host',
    kind: 'string',
    default: '127.0.0.1',
    description: 'address to listen on (use 0.0.0.0 in a container)',
  }),
  port: option({
    flag: 'port',
    kind: 'integer',
    default: 3000,
    min: 0,
    max: MAX_PORT,
    description: 'port to listen on: 1 to 65535, or 0 for any free port (logged at start)',
  }),
  timestampSigner: choice({
    flag: 'timestamp-signer',
    default: 'memory',
    choices: SIGNER_TYPES,
    description: 'where the signing key is held',
  }),
  timestampSignerHash: choice({
    flag: 'timestamp-signer-hash',
    default: 'auto',
    choices: SIGNER_HASHES,
    description:
      'digest of the token signature; auto: from the key (P-384: sha384, P-521/Ed25519: sha512, else sha256)',
  }),
  certificateChainPath: option({
    flag: 'certificate-chain-path',
    kind: 'string',
    default: '',
    description:
      'PEM certificate chain, leaf first, root last (required for kms, tink, file and pkcs11 signers)',
  }),
  kmsKeyResource: option({
    flag: 'kms-key-resource',
    kind: 'string',
    default: '',
    description: 'KMS key URI: awskms://, gcpkms://, azurekms://, hashivault:// or openbao://',
  }),
  pkcs11Uri: option({
    flag: 'pkcs11-uri',
    kind: 'string',
    default: '',
    secret: true,
    description:
      'PKCS#11 key URI (RFC 7512), e.g. pkcs11:token=tsa;object=tsa-key?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/secrets/pin',
  }),
  pkcs11MaxSessions: option({
    flag: 'pkcs11-max-sessions',
    kind: 'integer',
    default: 8,
    min: 1,
    max: 1024,
    description:
      'PKCS#11 sessions, so signatures in flight, at most (one login; and at most 32 signatures in flight per module process, ~8.5 MiB each); up to 1024 more requests wait for a session, more are refused (503)',
  }),
  pkcs11Timeout: option({
    flag: 'pkcs11-timeout',
    kind: 'duration',
    default: 5_000,
    min: 1,
    max: MAX_KMS_TIMEOUT_MS,
    description:
      'deadline of one PKCS#11 signature, waiting for a session included, and of every other call to the module, start-up included; a call (or the loading of the module) unanswered twice this long means the module is stuck: its process is killed and started again (e.g. 5s, 800ms; 1ms to 5m)',
  }),
  kmsTimeout: option({
    flag: 'kms-timeout',
    kind: 'duration',
    default: 5_000,
    min: 1,
    max: MAX_KMS_TIMEOUT_MS,
    description:
      'deadline of one remote signature, including retries, and of unwrapping a Tink keyset with its KEK at start (e.g. 5s, 800ms; 1ms to 5m)',
  }),
  kmsMaxConcurrency: option({
    flag: 'kms-max-concurrency',
    kind: 'integer',
    default: 32,
    min: 1,
    description:
      'remote signature calls in flight at most; up to 1024 more wait within their deadline, more are refused (503)',
  }),
  kmsMaxRetries: option({
    flag: 'kms-max-retries',
    kind: 'integer',
    default: 3,
    // From the 10th on, one backoff alone outlasts any sensible --kms-timeout.
    min: 0,
    max: 10,
    description: 'retries of a throttled remote signature (other errors are not retried)',
  }),
  enforceIntermediateEku: option({
    flag: 'enforce-intermediate-eku',
    kind: 'boolean',
    default: true,
    description:
      'require every intermediate certificate to list the timeStamping extended key usage',
  }),
  fileSignerKeyPath: option({
    flag: 'file-signer-key-path',
    secretFile: true,
    kind: 'string',
    default: '',
    description:
      'PEM private key of the file signer (PKCS#8, PKCS#1, SEC1, encrypted, sigstore/cosign)',
  }),
  fileSignerPasswd: option({
    flag: 'file-signer-passwd',
    kind: 'string',
    default: '',
    secret: true,
    description: 'password of an encrypted file signer key (prefer --file-signer-passwd-file)',
  }),
  fileSignerPasswdFile: option({
    flag: 'file-signer-passwd-file',
    secretFile: true,
    kind: 'string',
    default: '',
    description: 'file holding the file signer key password, e.g. a mounted Kubernetes Secret',
  }),
  tinkKeyResource: option({
    flag: 'tink-key-resource',
    kind: 'string',
    default: '',
    description: 'KEK URI of the Tink keyset: gcp-kms://, aws-kms:// or hcvault://',
  }),
  tinkKeysetPath: option({
    flag: 'tink-keyset-path',
    secretFile: true,
    kind: 'string',
    default: '',
    description: 'KMS-encrypted Tink keyset (JSON or binary) written by tinkey',
  }),
  tinkHcvaultToken: option({
    flag: 'tink-hcvault-token',
    kind: 'string',
    default: '',
    secret: true,
    description: 'Vault token for an hcvault:// Tink KEK (prefer --tink-hcvault-token-file)',
  }),
  tinkHcvaultTokenFile: option({
    flag: 'tink-hcvault-token-file',
    secretFile: true,
    kind: 'string',
    default: '',
    description: 'file holding the Vault token for an hcvault:// Tink KEK',
  }),
  verifyTokens: option<boolean | undefined>({
    flag: 'verify-tokens',
    kind: 'boolean',
    default: undefined,
    description:
      "verify each token's signature with the signer's public key before sending it; unset: only for a key outside the process (KMS, Vault, HSM)",
  }),
  kmsBreakerThreshold: option({
    flag: 'kms-breaker-threshold',
    kind: 'integer',
    default: 5,
    description:
      'consecutive remote signer failures (timeouts, 5xx, resets; PKCS#11 token errors) that open the circuit breaker; 0 disables it',
  }),
  kmsBreakerCooldown: option({
    flag: 'kms-breaker-cooldown',
    kind: 'duration',
    default: 10_000,
    min: 1,
    max: MAX_KMS_BREAKER_COOLDOWN_MS,
    description:
      'how long an open circuit breaker refuses issuance before one request probes the KMS or PKCS#11 token (1ms to 1h)',
  }),
  includeChainInResponse: option({
    flag: 'include-chain-in-response',
    kind: 'boolean',
    default: false,
    description: 'with certReq, embed the whole chain, not only the leaf',
  }),
  qualified: option({
    flag: 'qualified',
    kind: 'boolean',
    default: false,
    description:
      'state in each token that it is an EU qualified electronic time-stamp (ETSI EN 319 422 qcStatements, esi4-qtstStatement-1); needs --require-time-sync and an accuracy of at most 1s',
  }),
  useHttp201: option({
    flag: 'use-http-201',
    kind: 'boolean',
    default: false,
    description: 'answer 201 Created instead of 200 OK for granted tokens',
  }),
  defaultPolicyOid: option({
    flag: 'default-policy-oid',
    kind: 'string',
    default: '1.3.6.1.4.1.57264.2',
    description: 'TSA policy used when a request names none',
  }),
  acceptedPolicyOids: option<readonly string[]>({
    flag: 'accepted-policy-oids',
    kind: 'list',
    default: ['1.3.6.1.4.1.57264.2'],
    description: 'policies a request may name besides the default one (comma-separated)',
  }),
  allowCustomExtensions: option({
    flag: 'allow-custom-extensions',
    kind: 'boolean',
    default: false,
    description:
      'Go flag: copy non-critical request extensions of any OID into tokens (never critical, duplicate, non-DER or qcStatements ones); prefer --accepted-extension-oids',
  }),
  acceptedExtensionOids: option<readonly string[]>({
    flag: 'accepted-extension-oids',
    kind: 'list',
    default: [],
    description:
      'non-critical request extensions copied into tokens (comma-separated OIDs); others are refused',
  }),
  derRejectionStatus: choice({
    flag: 'der-rejection-status',
    default: 'rfc',
    choices: ['rfc', 'go'],
    description:
      "HTTP status of refused DER requests: rfc answers 200 with the TimeStampResp (jarsigner then sees the failInfo), go the Go server's 400; 500/503 either way",
  }),
  maxRequestBodySize: option({
    flag: 'max-request-body-size',
    kind: 'integer',
    default: 1_048_576,
    description: 'largest request body in bytes (0 = no limit)',
  }),
  httpRequestIdHeaderName: option({
    flag: 'http-request-id-header-name',
    kind: 'string',
    default: 'X-Request-Id',
    description: 'header carrying the request ID (echoed in the response)',
  }),
  ntpMonitoring: option({
    flag: 'ntp-monitoring',
    kind: 'string',
    default: '',
    description: 'NTP monitoring YAML (Go keys); empty for the embedded default servers',
  }),
  disableNtpMonitoring: option({
    flag: 'disable-ntp-monitoring',
    kind: 'boolean',
    default: false,
    description: 'do not compare the clock with NTP servers (the clock gate stays open)',
  }),
  requireTimeSync: option({
    flag: 'require-time-sync',
    kind: 'boolean',
    default: false,
    description: 'refuse issuance while the clock is unverified, not only while it has drifted',
  }),
  timeSource: choice({
    flag: 'time-source',
    default: 'sntp',
    choices: ['sntp', 'chrony'],
    description:
      'clock gate evidence: sntp asks the --ntp-monitoring servers; chrony reads a local chronyd (NTS-capable) through --chrony-socket',
  }),
  chronySocket: option({
    flag: 'chrony-socket',
    kind: 'string',
    default: '/run/chrony/chronyd.sock',
    description:
      "chronyd's command socket, read with chronyc (--time-source chrony); this process needs write access to its directory",
  }),
  requireNts: option({
    flag: 'require-nts',
    kind: 'boolean',
    default: false,
    description:
      "with --time-source chrony: refuse issuance unless chronyd's selected source is NTS-authenticated (implies --require-time-sync)",
  }),
  accuracy: option({
    flag: 'accuracy',
    kind: 'string',
    default: '1s',
    description:
      "accuracy declared in tokens (e.g. 1s, 250ms; 2ms to 60s); the clock gate holds the clock within it less genTime's own error (whole seconds, rounded: 500ms; else 1ms) if that is below max_time_delta; auto: the bound each clock check measured, at most max_time_delta",
  }),
  auditLog: option({
    flag: 'audit-log',
    kind: 'string',
    default: '',
    description:
      'append one JSON line per timestamp request to this file, fsynced before a token is sent; reopened on SIGHUP (empty = off)',
  }),
  ledgerUrl: option({
    flag: 'ledger-url',
    kind: 'string',
    default: '',
    secret: true,
    env: ['TIMESTAMP_LEDGER_URL'],
    description:
      'PostgreSQL URL (postgres://user@host:5432/db) of the issuance ledger: every token is committed there before it is sent (empty = off)',
  }),
  ledgerPasswordFile: option({
    flag: 'ledger-password-file',
    secretFile: true,
    kind: 'string',
    default: '',
    description: "file holding the ledger database user's password (instead of one in the URL)",
  }),
  ledgerKey: option({
    flag: 'ledger-key',
    kind: 'string',
    default: '',
    // A pkcs11: URI may carry pin-value.
    secret: true,
    description:
      'Ed25519 private key signing the transparency log checkpoints: a PKCS#8 PEM file or a pkcs11: URI (RFC 7512); empty = no log',
  }),
  ledgerOrigin: option({
    flag: 'ledger-origin',
    kind: 'string',
    default: '',
    description:
      "the log's origin, first line of its checkpoints and key name, e.g. tsa.example.com/log",
  }),
  ledgerCheckpointInterval: option({
    flag: 'ledger-checkpoint-interval',
    kind: 'duration',
    default: 1_000,
    min: 10,
    max: 60 * 60_000,
    description:
      'longest time between new log entries and a signed checkpoint covering them; an idle log signs none (10ms to 1h)',
  }),
  ledgerAnchorInterval: option({
    flag: 'ledger-anchor-interval',
    kind: 'duration',
    default: 600_000,
    max: 24 * 60 * 60_000,
    description:
      'least time between anchors: the TSA timestamps the first checkpoint signed once it has passed (none while the log is idle) and logs that token too; counted per process, so a new sequencer anchors its first checkpoint at once (0 = never)',
  }),
  rateLimitMax: option({
    flag: 'rate-limit-max',
    kind: 'integer',
    default: 0,
    description:
      'timestamp requests allowed per client address per window, then 429 (0 = no limit)',
  }),
  rateLimitWindow: option({
    flag: 'rate-limit-window',
    kind: 'integer',
    default: 60,
    max: MAX_TIMEOUT_MS / 1000,
    description: 'length of the rate-limit window in seconds (at most 86400, a day)',
  }),
  trustedProxies: option<readonly string[]>({
    flag: 'trusted-proxies',
    kind: 'list',
    default: [],
    description:
      'addresses or CIDRs of reverse proxies whose X-Forwarded-For names the client (comma-separated)',
  }),
  logType: choice({
    flag: 'log-type',
    default: 'dev',
    choices: ['dev', 'prod'],
    description: 'dev: human-readable; prod: one JSON object per line',
  }),
  logLevel: choice({
    flag: 'log-level',
    default: 'info',
    choices: LOG_LEVELS,
    description: 'least severe level written',
  }),
  httpPingOnly: option({
    flag: 'http-ping-only',
    kind: 'boolean',
    default: false,
    description:
      'on the plain-HTTP listener serve only /ping and the /livez and /readyz probes (timestamps only over HTTPS)',
  }),
  readTimeout: option({
    flag: 'read-timeout',
    kind: 'duration',
    default: 30_000,
    max: MAX_TIMEOUT_MS,
    description: 'longest time to receive a whole request (headers and body; at most 24h)',
  }),
  writeTimeout: option({
    flag: 'write-timeout',
    kind: 'duration',
    default: 30_000,
    max: MAX_TIMEOUT_MS,
    description: 'longest socket inactivity while a request is being answered (at most 24h)',
  }),
  cleanupTimeout: option({
    flag: 'cleanup-timeout',
    kind: 'duration',
    default: 620_000,
    max: MAX_TIMEOUT_MS,
    description:
      'keep-alive idle timeout (above the 600 s of cloud load balancers; 0: --read-timeout, as Go; at most 24h)',
  }),
  gracefulTimeout: option({
    flag: 'graceful-timeout',
    kind: 'duration',
    default: 15_000,
    max: MAX_TIMEOUT_MS,
    description: 'on SIGTERM/SIGINT, how long in-flight requests may take to finish (at most 24h)',
  }),
  maxHeaderSize: option({
    flag: 'max-header-size',
    kind: 'size',
    default: 16_384,
    // 0 gave HTTP/1.1 Node's default and every HTTP/2 request a 431; 10GB meant no limit at all.
    // 64 MiB is far above any real header block (Go's default: 1 MB).
    min: 1000,
    max: 64 * 1024 * 1024,
    description:
      'largest request header block in bytes ("64k", "1MB" allowed, decimal as in Go; 1k to 64 MiB)',
  }),
  maxConnections: option({
    flag: 'max-connections',
    kind: 'integer',
    default: 0,
    aliases: ['listen-limit'],
    description: 'most open connections per listener (0 = no limit; Go: --listen-limit)',
  }),
  tlsCertificate: option({
    flag: 'tls-certificate',
    kind: 'string',
    default: '',
    env: ['TLS_CERTIFICATE'],
    description: 'PEM certificate (chain) of the HTTPS listener; with --tls-key enables HTTPS',
  }),
  tlsKey: option({
    flag: 'tls-key',
    secretFile: true,
    kind: 'string',
    default: '',
    env: ['TLS_PRIVATE_KEY'],
    description: 'PEM private key (unencrypted) of the HTTPS listener',
  }),
  tlsCa: option({
    flag: 'tls-ca',
    kind: 'string',
    default: '',
    env: ['TLS_CA_CERTIFICATE'],
    description:
      'PEM CA certificates; when set, HTTPS clients must present a certificate it issued (mTLS)',
  }),
  tlsHost: option({
    flag: 'tls-host',
    kind: 'string',
    default: '',
    description: 'address of the HTTPS listener (empty = same as --host)',
  }),
  tlsPort: option({
    flag: 'tls-port',
    kind: 'integer',
    default: 3443,
    min: 0,
    max: MAX_PORT,
    description:
      'port of the HTTPS listener (HTTP/2 and HTTP/1.1): 1 to 65535, or 0 for any free port',
  }),
  metricsHost: option({
    flag: 'metrics-host',
    kind: 'string',
    default: '',
    description: 'address of the Prometheus listener (empty = same as --host)',
  }),
  metricsPort: option({
    flag: 'metrics-port',
    kind: 'integer',
    default: 2112,
    min: 0,
    max: MAX_PORT,
    description:
      'port of the Prometheus listener serving /metrics: 1 to 65535, or 0 for any free port',
  }),
  workers: option({
    flag: 'workers',
    kind: 'string',
    default: '1',
    description:
      'processes serving the port (node:cluster): 1 to 1024, or auto for one per core the process may use (capped by the cgroup CPU limit); 1 = no cluster',
  }),
  ...GO_ONLY_OPTIONS,
} as const;

export type ServeOptionName = keyof typeof SERVE_OPTIONS;

/** A choice option keeps its union of strings; the others widen a literal default. */
type ValueOf<S> =
  S extends ChoiceSpec<infer C> ? C : S extends OptionSpec<infer T> ? Widen<T> : never;
type Widen<T> = T extends string
  ? string
  : T extends number
    ? number
    : T extends boolean
      ? boolean
      : T;

/** The validated, frozen server configuration. */
export type ServeConfig = {
  readonly [K in ServeOptionName]: ValueOf<(typeof SERVE_OPTIONS)[K]>;
} & FileOnlySettings;

/**
 * Settings only a config file gives (lists of mappings, not flags): config/profiles.ts declares
 * them (`profiles`, `previousChains`) by declaration merging, which keeps this file free of the
 * signer types that themselves read ServeConfig.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface FileOnlySettings {}

import { deserialize, serialize } from 'node:v8';
import type { ClockStatus } from '../../clock/clock-monitor.js';
import type { PinAdmission, PinAnswer } from '../../signers/pkcs11/pin-gate.js';
import type { ServeConfig } from '../../config/schema.js';
import type { Registry } from 'prom-client';
import type { PinnedFile } from './pinned-files.js';

/** prom-client's JSON form of a registry, what AggregatorRegistry.aggregate takes. */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/**
 * The cluster IPC protocol between the primary and its workers. JSON over the channel node:cluster
 * opens to each worker; the configuration and the memory signers' keys travel only here, never in
 * argv or the environment (the variables that set options are not even copied into a worker's:
 * supervisor.ts).
 */

/** Worker -> primary, once its message listener is attached (earlier messages would be lost). */
export interface HelloMessage {
  type: 'tsa:hello';
}

/** The memory signer's key (PKCS#8 DER) and chain (DER, leaf first), base64. */
export interface MemoryKeyTransfer {
  pkcs8: string;
  chain: string[];
}

/** The TLS listener's certificate, key and client CAs (PEM), base64. */
export interface TlsTransfer {
  cert: string;
  key: string;
  ca?: string;
}

/**
 * Primary -> worker, the answer to hello: what the worker needs before it builds its authority.
 * A worker reads no configuration of its own: every worker, replacements included, serves the one
 * the primary loaded at start (a file edited since would otherwise split the server in two).
 */
export interface SetupMessage {
  type: 'tsa:setup';
  /** The primary's resolved ServeConfig (encodeConfig). */
  config: string;
  /** The files the worker reads by path, as the primary read them (cluster/pinned-files.ts). */
  files: PinnedFile[];
  tls?: TlsTransfer;
  /** One per memory-signer profile, by profile name (`default` for the top level). */
  memoryKeys: Record<string, MemoryKeyTransfer>;
  clock?: ClockStatus;
  /** The key of the PKCS#11 PIN digests the workers compare through the primary, base64. */
  pinKey: string;
}

/** Worker -> primary: listening. */
export interface ServingMessage {
  type: 'tsa:serving';
  url: string;
  tlsUrl?: string;
}

/**
 * Worker -> primary: this worker has stopped accepting and finishes what is in flight (on its own
 * SIGTERM, or because the primary is gone); it no longer counts as serving.
 */
export interface DrainingMessage {
  type: 'tsa:draining';
}

/** Primary -> worker: the NTP monitor's status, at every change and periodically. */
export interface ClockMessage {
  type: 'tsa:clock';
  status: ClockStatus;
}

/** Worker -> primary: this worker saw the wall clock step; re-verify against NTP now. */
export interface ClockJumpMessage {
  type: 'tsa:clock-jump';
}

/** Primary -> worker: send your metrics (prom-client's JSON form) for one scrape. */
export interface MetricsRequestMessage {
  type: 'tsa:metrics-request';
  id: number;
}

export interface MetricsMessage {
  type: 'tsa:metrics';
  id: number;
  metrics?: MetricsJson;
  error?: string;
}

/**
 * Worker -> primary, once drained and before it exits: its metrics as they end, kept by the primary
 * as the worker's last answer (what it counted since the last scrape would be lost otherwise).
 */
export interface FinalMetricsMessage {
  type: 'tsa:final-metrics';
  metrics: MetricsJson;
}

/**
 * Worker -> primary: may this worker's PKCS#11 signer offer the PIN of this digest to the token of
 * `scope` now? (The primary's PinArbiter: one worker offers a token's PIN at a time; one the
 * token refused is not offered.)
 */
export interface PinAdmitMessage {
  type: 'tsa:pin-admit';
  id: number;
  scope: string;
  digest: string;
}

/** Primary -> worker: the answer to the tsa:pin-admit of the same id. */
export interface PinAdmissionMessage {
  type: 'tsa:pin-admission';
  id: number;
  admission: PinAdmission;
}

/** Worker -> primary: what the token answered to the offer of `ticket` (PinAdmission's). */
export interface PinSettledMessage {
  type: 'tsa:pin-settled';
  ticket: number;
  answer: PinAnswer;
}

/**
 * Worker -> primary: why its start-up failed, sent before it exits 1, so that the primary's own
 * FATAL line (the last one printed) says it too.
 */
export interface StartFailedMessage {
  type: 'tsa:start-failed';
  reason: string;
}

/** Primary -> worker: stop accepting, finish in-flight requests, exit 0. */
export interface DrainMessage {
  type: 'tsa:drain';
}

export type ClusterMessage =
  | HelloMessage
  | SetupMessage
  | ServingMessage
  | DrainingMessage
  | ClockMessage
  | ClockJumpMessage
  | MetricsRequestMessage
  | MetricsMessage
  | FinalMetricsMessage
  | PinAdmitMessage
  | PinAdmissionMessage
  | PinSettledMessage
  | StartFailedMessage
  | DrainMessage;

/** Narrows a message of the channel to ours (prom-client and node use the same channel). */
export function isMessage<T extends ClusterMessage['type']>(
  message: unknown,
  type: T,
): message is Extract<ClusterMessage, { type: T }> {
  return (
    typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type
  );
}

/** SetupMessage.config: structured clone, not JSON, so previous-chains' `retired` Dates survive. */
export const encodeConfig = (config: ServeConfig): string => serialize(config).toString('base64');
export const decodeConfig = (encoded: string): ServeConfig =>
  deserialize(Buffer.from(encoded, 'base64')) as ServeConfig;

/** Set in the environment of the processes the primary forks (a role, not a secret). */
export const WORKER_ROLE_VARIABLE = 'TIMESTAMP_SERVER_CLUSTER_WORKER';

/**
 * The worker's slot, 1..--workers, set at fork (a role, not a secret). A replacement takes the
 * slot of the worker it replaces, so each slot's audit log file has one writer at a time.
 */
export const WORKER_SLOT_VARIABLE = 'TIMESTAMP_SERVER_WORKER_SLOT';

import type { LookupFunction } from 'node:net';
import { type HostLookups, oneLookupAtATime } from '../../host-lookup.js';

/** Programmatic options of the providers (not flags). */
export interface ProviderOptions {
  /** A private CA the service's TLS certificate chains to, for tests (else the system's CAs). */
  ca?: string;
  /** How the service's host is resolved: SERVICE_LOOKUPS unless a test says. */
  lookups?: HostLookups;
  /** Start-up warnings (a Vault token file others can read). */
  warn?: (message: string) => void;
}

/**
 * The remote signers' lookups of their services' hosts, one at a time (host-lookup.ts): an HTTP
 * agent opens connections as load comes, each resolving the host on a thread of libuv's pool.
 * gRPC (gcpkms://) resolves its channel's host one lookup at a time itself.
 */
const SERVICE_LOOKUPS = oneLookupAtATime();

/** The `lookup` of a provider's sockets: the test's lookups, else SERVICE_LOOKUPS. */
export const serviceLookup = (options: ProviderOptions): LookupFunction =>
  (options.lookups ?? SERVICE_LOOKUPS).forSockets;

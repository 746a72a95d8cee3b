import type { Agent } from 'node:https';

/** Programmatic options of the providers (not flags). */
export interface ProviderOptions {
  /** A TLS agent trusting a private CA, for tests. */
  httpsAgent?: Agent;
  /** Start-up warnings (a Vault token file others can read). */
  warn?: (message: string) => void;
}

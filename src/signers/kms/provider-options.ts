import type { Agent } from 'node:https';

/** Programmatic options of the providers (not flags): a TLS agent trusting a private CA, for tests. */
export interface ProviderOptions {
  httpsAgent?: Agent;
}

/** A configuration the server refuses to start with; the CLI prints its message and exits 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

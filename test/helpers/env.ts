import { afterAll, afterEach } from 'vitest';

/**
 * Gives the variables `names` back the values they had when this is called, after each test of the
 * file (set or deleted again). Key by key: os.homedir() reads the real environment, which a new
 * process.env object would detach.
 */
export function restoreEnvAfterEach(names: readonly string[]): void {
  afterEach(restorer(names));
}

/** The same once the file's tests have run: for variables its beforeAll sets for all of them. */
export function restoreEnvAfterAll(names: readonly string[]): void {
  afterAll(restorer(names));
}

/** A function that gives `names` back the values they have now. */
function restorer(names: readonly string[]): () => void {
  const saved = Object.fromEntries(names.map((name) => [name, process.env[name]]));
  return () => {
    for (const name of names) {
      const value = saved[name];
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
}

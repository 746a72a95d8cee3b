import { afterEach } from 'vitest';

/**
 * Gives the variables `names` back the values they had when this is called, after each test of the
 * file (set or deleted again). Key by key: os.homedir() reads the real environment, which a new
 * process.env object would detach.
 */
export function restoreEnvAfterEach(names: readonly string[]): void {
  const saved = Object.fromEntries(names.map((name) => [name, process.env[name]]));
  afterEach(() => {
    for (const name of names) {
      const value = saved[name];
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
}

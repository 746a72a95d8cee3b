import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../helpers/openssl.js';
import { childEnvironment, reapChild } from '../../helpers/process.js';
import { cliArguments, REPO_ROOT } from '../../helpers/spawn-server.js';

/**
 * An error nobody handles (a library's rejected promise, an exception thrown from a callback) must
 * not reach Node's own printer, which shows its message, its stack and, for a JSON.parse error,
 * the source line: a secret the library read. A preloaded module raises one carrying a planted
 * secret once the entry holds its signals (its first act after installing its handlers).
 */
const SECRET = 'PLANTED_S3CRET_42';
const work = tempDir();
afterAll(() => work.cleanup());

function raiser(name: string, raise: string): string {
  return work.write(
    `${name}.mjs`,
    `const poll = setInterval(() => {
  if (process.listenerCount('SIGTERM') === 0) return;
  clearInterval(poll);
  ${raise}
}, 1);
`,
  );
}

function runWith(preload: string) {
  const child = spawn(process.execPath, ['--import', preload, ...cliArguments(), 'version'], {
    cwd: REPO_ROOT,
    env: childEnvironment(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  reapChild(child);
  let output = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('close', (code) => resolve(code)),
  );
  return { exited, output: () => output, stderr: () => stderr };
}

describe('timestamp-server: an error nobody handles', () => {
  it.each([
    [
      'unhandled promise rejection',
      `void Promise.reject(new SyntaxError('Unexpected token in JSON: "${SECRET}"'));`,
      'SyntaxError',
    ],
    [
      'uncaught exception',
      `setImmediate(() => { throw Object.assign(new Error('${SECRET}'), { code: 'E_PLANTED' }); });`,
      'Error E_PLANTED',
    ],
  ])(
    '%s: one line with its class, its frames, exit 1, never its message',
    async (kind, raise, shown) => {
      const file = raiser(kind.replaceAll(' ', '-'), raise);
      const run = runWith(file);
      expect(await run.exited).toBe(1);
      expect(run.output()).not.toContain(SECRET);
      const [line, ...frames] = run.stderr().trimEnd().split('\n');
      expect(line).toBe(
        `timestamp-server: ${kind} (${shown}), exiting with 1; its message is not printed (it may quote a secret)`,
      );
      // Where it was raised, for the bug report: the frames alone.
      expect(frames.length).toBeGreaterThan(0);
      for (const frame of frames) expect(frame).toMatch(/^ {4}at /);
      expect(frames[0]).toContain(file);
    },
  );

  it('a multi-line message is not taken for frames', async () => {
    const run = runWith(
      raiser(
        'multi-line',
        `const error = new Error('first\\n    at ${SECRET}'); void error.stack; error.message = 'changed'; throw error;`,
      ),
    );
    expect(await run.exited).toBe(1);
    expect(run.output()).not.toContain(SECRET);
  });
});

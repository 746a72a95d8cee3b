import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { childEnvironment, reapChild } from './process.js';
import { cliArguments } from './spawn-server.js';

const ROOT = join(import.meta.dirname, '..', '..');

export interface SpawnedServer {
  child: ChildProcess;
  url: string;
  /** Every line the process wrote to stdout and stderr so far. */
  lines: string[];
  /** Resolves with the first line (already written or future) that matches. */
  waitForLine(pattern: RegExp): Promise<string>;
  /** SIGTERM, then resolves with the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Runs `timestamp-server serve --port 0 --log-type prod ...args` (the build, or the sources through
 * tsx when the build is stale: see cliArguments), optionally under a wrapper command (e.g. strace),
 * and resolves once it listens.
 */
export async function spawnServer(args: string[], wrapper: string[] = []): Promise<SpawnedServer> {
  const command = [
    ...wrapper,
    process.execPath,
    ...cliArguments(),
    'serve',
    '--port',
    '0',
    '--log-type',
    'prod',
    ...args,
  ];
  const child = spawn(command[0] as string, command.slice(1), {
    cwd: ROOT,
    env: childEnvironment(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  reapChild(child);
  const lines: string[] = [];
  const watchers: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  const collect = (stream: NodeJS.ReadableStream): void => {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        for (const watcher of [...watchers]) {
          if (watcher.pattern.test(line)) {
            watchers.splice(watchers.indexOf(watcher), 1);
            watcher.resolve(line);
          }
        }
      }
    });
  };
  collect(child.stdout as NodeJS.ReadableStream);
  collect(child.stderr as NodeJS.ReadableStream);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );

  const waitForLine = (pattern: RegExp): Promise<string> => {
    const seen = lines.find((line) => pattern.test(line));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      watchers.push({ pattern, resolve });
      void exited.then((code) =>
        reject(
          new Error(`server exited (${code}) before logging ${pattern}:\n${lines.join('\n')}`),
        ),
      );
    });
  };
  const listening = await waitForLine(/serving timestamps on/);
  const url = /serving timestamps on (http:\/\/[^\s"]+)/.exec(listening)?.[1];
  if (!url) throw new Error(`no URL in ${listening}`);
  return {
    child,
    url,
    lines,
    waitForLine,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

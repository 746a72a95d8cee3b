import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { childEnvironment, reapChild } from './process.js';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(REPO_ROOT, 'src', 'cli', 'timestamp-server.ts');
/** tsx's loader by path (`node --import`), so TypeScript runs from source whatever the working directory. */
export const TSX_LOADER = pathToFileURL(
  join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs'),
).href;
const BUILT_CLI = join(REPO_ROOT, 'dist', 'src', 'cli', 'timestamp-server.js');

function newestSource(dir: string): number {
  return Math.max(
    ...readdirSync(dir, { withFileTypes: true }).map((entry) =>
      entry.isDirectory()
        ? newestSource(join(dir, entry.name))
        : statSync(join(dir, entry.name)).mtimeMs,
    ),
  );
}

/** A file signer whose key and chain do not exist: start-up must refuse it. */
export const MISSING_FILE_SIGNER = [
  '--timestamp-signer',
  'file',
  '--file-signer-key-path',
  '/nonexistent/key.pem',
  '--certificate-chain-path',
  '/nonexistent/chain.pem',
];

/** `serve` on ephemeral ports, with prod logs (one JSON object a line). */
export const SERVE_ON_EPHEMERAL_PORTS = [
  'serve',
  '--port',
  '0',
  '--metrics-port',
  '0',
  '--log-type',
  'prod',
] as const;

/** The messages of the FATAL lines in a prod log's `output` (a start-up that failed). */
export function fatalMessages(output: string): string[] {
  return output
    .split('\n')
    .filter((line) => line.includes('"FATAL"'))
    .map((line) => (JSON.parse(line) as { message: string }).message);
}

/**
 * The built CLI (`make test` builds it first) when it is newer than every source file, else the
 * sources through tsx, so a test never runs stale code.
 */
export function cliArguments(): string[] {
  const fresh =
    existsSync(BUILT_CLI) && statSync(BUILT_CLI).mtimeMs >= newestSource(join(REPO_ROOT, 'src'));
  return fresh ? [BUILT_CLI] : ['--import', TSX_LOADER, CLI];
}

export interface SpawnedServer {
  child: ChildProcess;
  url: string;
  metricsUrl: string;
  tlsUrl: string | undefined;
  /** stdout lines so far (prod logs: one JSON object each). */
  lines: string[];
  stderr: () => string;
  /** Resolves with the exit code once the process has ended. */
  exited: Promise<number | null>;
  stop(): Promise<number | null>;
}

/**
 * Runs `timestamp-server <args>` from source, as a separate process, in childEnvironment(env): no
 * option variable of the developer's shell, HOME without a config file. Killed if the test fails
 * while it runs, or at the end of the test file (reapChild).
 */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, cwd = REPO_ROOT) {
  const child = spawn(process.execPath, [...cliArguments(), ...args], {
    cwd,
    env: childEnvironment(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  reapChild(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // 'close', not 'exit': the last lines may still be in the pipe when 'exit' fires.
  const exited = new Promise<number | null>((resolve) =>
    child.once('close', (code) => resolve(code)),
  );
  return { child, exited, stdout: () => stdout, stderr: () => stderr };
}

/** The message of a prod log line; '' for a line that is not one. */
function messageOf(line: string): string {
  try {
    return (JSON.parse(line) as { message?: string }).message ?? '';
  } catch {
    return '';
  }
}

/**
 * Starts `timestamp-server serve` with prod logs and waits until it serves: no deadline of its
 * own, it fails when the process exits first, and a hang is the test's timeout, after which the
 * process is killed (runCli).
 */
export async function spawnServer(
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<SpawnedServer> {
  const run = runCli([...SERVE_ON_EPHEMERAL_PORTS, ...args], env);
  const lines: string[] = [];
  const addresses = await new Promise<Record<string, string>>((resolve, reject) => {
    const found: Record<string, string> = {};
    let buffered = '';
    run.child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        const message = messageOf(line);
        const match = /^serving (metrics|timestamps over HTTPS|timestamps).* on (\S+)$/.exec(
          message,
        );
        if (match?.[1] && match[2]) found[match[1]] = match[2];
        if (
          found['timestamps'] &&
          (!args.includes('--tls-certificate') || found['timestamps over HTTPS'])
        ) {
          resolve(found);
        }
      }
    });
    void run.exited.then((code) =>
      reject(new Error(`server exited with ${code}:\n${run.stderr()}\n${lines.join('\n')}`)),
    );
  });
  return {
    child: run.child,
    url: addresses['timestamps'] ?? '',
    metricsUrl: addresses['metrics'] ?? '',
    tlsUrl: addresses['timestamps over HTTPS'],
    lines,
    stderr: run.stderr,
    exited: run.exited,
    stop: async () => {
      if (run.child.exitCode === null) run.child.kill('SIGTERM');
      return run.exited;
    },
  };
}

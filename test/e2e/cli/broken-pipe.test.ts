import { execFileSync, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTimestampResponse } from '../../../src/verify/parse-response.js';
import { CLI_JS } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/openssl.js';
import { issueToken, makePki } from '../../helpers/pki.js';
import { reapChild } from '../../helpers/process.js';
import { REPO_ROOT } from '../../helpers/spawn-server.js';

const SERVER_JS = join(REPO_ROOT, 'dist', 'src', 'cli', 'timestamp-server.js');

/**
 * The CLI with its stdout a pipe whose reader is gone before it starts, as `timestamp-cli … | true`
 * may leave it: a FIFO opened for reading and writing, then for writing, then the first closed.
 */
function withBrokenStdout(
  fifo: string,
  args: string[],
  cwd: string,
  program = CLI_JS,
): Promise<{ code: number | null; stderr: string }> {
  const reader = openSync(fifo, 'r+');
  const writer = openSync(fifo, 'w');
  closeSync(reader);
  const child = spawn(process.execPath, [program, ...args], {
    cwd,
    env: { PATH: process.env['PATH'] ?? '', HOME: cwd },
    stdio: ['ignore', writer, 'pipe'],
  });
  reapChild(child);
  closeSync(writer);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })));
}

describe('timestamp-cli with a broken stdout pipe (built binary)', () => {
  const dir = tempDir();
  let fifo: string;
  beforeAll(async () => {
    fifo = dir.path('stdout.fifo');
    execFileSync('mkfifo', [fifo]);
    const pki = await makePki();
    const response = await issueToken(pki, { artifact: Buffer.from('artifact') });
    expect(parseTimestampResponse(response).timestamp.certificates).toHaveLength(1);
    dir.write('artifact', 'artifact');
    dir.write('response.tsr', response);
    dir.write('chain.pem', pki.chainPem);
  });
  afterAll(() => dir.cleanup());

  it.each([
    ['version', ['version']],
    ['inspect --format json', ['--format', 'json', 'inspect', '--timestamp', 'response.tsr']],
    [
      'verify',
      [
        'verify',
        '--artifact',
        'artifact',
        '--timestamp',
        'response.tsr',
        '--certificate-chain',
        'chain.pem',
      ],
    ],
  ])('%s exits quietly with its own status, no stack trace', async (_, args) => {
    const result = await withBrokenStdout(fifo, args, dir.dir);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('a command whose output itself (--output /dev/stdout) is lost exits 1', async () => {
    const result = await withBrokenStdout(
      fifo,
      [
        'certificates',
        'create',
        '--generate-keys',
        'ecdsa-p256',
        '--root-key',
        'root.key',
        '--leaf-key',
        'leaf.key',
        '--output',
        '/dev/stdout',
      ],
      dir.dir,
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(1);
  });
});

describe('timestamp-server with a broken stdout pipe (built binary)', () => {
  const dir = tempDir();
  afterAll(() => dir.cleanup());

  it.each([
    ['version', ['version']],
    ['version --json', ['version', '--json']],
    ['serve --print-config', ['serve', '--print-config']],
  ])('%s exits quietly with status 0, no stack trace', async (_, args) => {
    const fifo = dir.path(`${args.join('-')}.fifo`);
    execFileSync('mkfifo', [fifo]);
    const result = await withBrokenStdout(fifo, args, dir.dir, SERVER_JS);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });
});

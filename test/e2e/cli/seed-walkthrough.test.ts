/**
 * The seed README's "fetch a timestamp with openssl and curl" walkthrough, as README.md has it, run
 * by bash against ./bin/timestamp-server (only the port differs, so parallel runs do not collide).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../helpers/openssl.js';
import {
  childEnvironment,
  REPO_ROOT,
  requireBuild,
  SERVER_BIN,
  startProcess,
} from '../../helpers/process.js';

/** bash, curl, openssl and the server's version command, in a spawned server's environment. */
const run = (file: string, args: string[], options: { cwd?: string } = {}) =>
  promisify(execFile)(file, args, { ...options, env: childEnvironment() });

/**
 * The README's block, read from README.md so that it cannot drift from what is tested. Its first
 * line starts the server in the background; the test starts it itself (without NTP, which CI
 * cannot reach) and runs the rest, the wait for it included.
 */
function walkthrough(): string {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### A token with openssl and curl'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  const [start, ...rest] = block.trimEnd().split('\n');
  expect(start).toBe('./bin/timestamp-server serve --port 3000 &');
  return ['set -euo pipefail', ...rest].join('\n');
}

describe('seed README walkthrough', () => {
  let server: Awaited<ReturnType<typeof startProcess>>;
  let port: string;
  const dir = tempDir();

  beforeAll(async () => {
    requireBuild();
    server = await startProcess(SERVER_BIN, ['serve', '--port', '0', '--disable-ntp-monitoring']);
    port = new URL(server.url).port;
  });
  afterAll(async () => {
    await server?.stop();
    dir.cleanup();
  });

  it('curl + csplit + openssl verify the token', async () => {
    const script = walkthrough().replaceAll('localhost:3000', `localhost:${port}`);
    const { stdout, stderr } = await run('bash', ['-c', script], { cwd: dir.dir });
    expect(stdout + stderr).toMatch(/Verification: OK/);
    expect(stdout).toMatch(/Status: Granted\./);
    expect(stdout).toMatch(/TSA: DirName:\/O=local\/CN=Test TSA Timestamping/);
  });

  it('the JSON request of the README is granted', async () => {
    const request = `{"artifactHash": "${Buffer.alloc(32, 1).toString('base64')}", "certificates": true, "hashAlgorithm": "sha256", "nonce": 1123343434, "tsaPolicyOID": ""}`;
    dir.write('request.json', request);
    await run(
      'bash',
      [
        '-c',
        `curl -sSH "Content-Type: application/json" -d @request.json http://localhost:${port}/api/v1/timestamp -o response.tsr`,
      ],
      { cwd: dir.dir },
    );
    const { stdout } = await run('openssl', [
      'ts',
      '-reply',
      '-in',
      dir.path('response.tsr'),
      '-text',
    ]);
    expect(stdout).toMatch(/Status: Granted\./);
    expect(stdout).toMatch(/Nonce: 0x42F4DC4A/);
  });

  it('timestamp-server version prints the build', async () => {
    const { stdout } = await run(SERVER_BIN, ['version', '--json']);
    expect(JSON.parse(stdout)).toMatchObject({
      gitVersion: expect.any(String),
      nodeVersion: process.version,
    });
  });
});

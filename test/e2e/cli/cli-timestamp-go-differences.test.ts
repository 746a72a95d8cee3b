import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../../src/runtime/serve.js';
import { runCli } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/openssl.js';
import { startLocalServer } from '../../helpers/tsa.js';

/**
 * `timestamp` where it meets or leaves Go's command on purpose (docs/compatibility.md): an empty
 * --out is Go's default, response.tsr; `--hash SHA256` is accepted, where Go refuses it; the
 * "Generating a new signed timestamp" line goes to stderr, where Go prints it on stdout, so that
 * --format json's stdout is the JSON alone.
 */
describe('timestamp-cli timestamp and Go', () => {
  const dir = tempDir();
  let server: RunningServer;
  beforeAll(async () => {
    server = await startLocalServer();
    dir.write('artifact', 'go differences\n');
  });
  afterAll(async () => {
    await server.close();
    dir.cleanup();
  });

  const timestamp = (args: string[], cwd = dir.dir) =>
    runCli(['--timestamp_server', server.url, 'timestamp', '--artifact', 'artifact', ...args], {
      cwd,
    });

  it('writes response.tsr for an empty --out, from the flag or the config file, as Go does', async () => {
    const empty = dir.write('empty-out.yaml', 'out: ""\n');
    for (const [where, before, after] of [
      ['flag', [], ['--out', '']],
      ['config file', ['--config', empty], []],
    ] as const) {
      const work = tempDir();
      try {
        work.write('artifact', 'go differences\n');
        const result = await runCli(
          [
            ...before,
            '--timestamp_server',
            server.url,
            'timestamp',
            '--artifact',
            'artifact',
            ...after,
          ],
          { cwd: work.dir },
        );
        expect(result.stderr, where).toBe('Generating a new signed timestamp\n');
        expect(result.code, where).toBe(0);
        expect(result.stdout, where).toMatch(/\nWrote timestamp response to response\.tsr\n$/);
        expect(existsSync(work.path('response.tsr')), where).toBe(true);
      } finally {
        work.cleanup();
      }
    }
  });

  it('accepts --hash in upper case (Go refuses it)', async () => {
    const result = await timestamp(['--hash', 'SHA384', '--out', 'upper.tsr']);
    expect(result.code, result.stderr).toBe(0);
    const inspected = await runCli(['inspect', '--timestamp', 'upper.tsr'], { cwd: dir.dir });
    expect(inspected.stdout).toMatch(/^Hash algorithm: {4}sha384 /m);
  });

  it('says "Generating a new signed timestamp" on stderr, so --format json is alone on stdout', async () => {
    const result = await runCli(
      [
        '--timestamp_server',
        server.url,
        '--format',
        'json',
        'timestamp',
        '--artifact',
        'artifact',
        '--out',
        'json.tsr',
      ],
      { cwd: dir.dir },
    );
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('Generating a new signed timestamp\n');
    expect(JSON.parse(result.stdout)).toEqual({
      Timestamp: expect.stringMatching(/Z$/),
      Location: 'json.tsr',
    });
    expect(readFileSync(dir.path('json.tsr'))[0]).toBe(0x30);
  });
});

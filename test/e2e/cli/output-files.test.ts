import { execFile } from 'node:child_process';
import { lstatSync, readFileSync, symlinkSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_JS, runCli } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/openssl.js';

/** Where the files timestamp-cli writes go (docs/cli.md): never through a link but /dev's. */
describe('timestamp-cli output files (built binary)', () => {
  const dir = tempDir();
  afterAll(() => dir.cleanup());

  const csr = (output: string) =>
    runCli(
      [
        'certificates',
        'csr',
        '--generate-keys',
        'ecdsa-p256',
        '--leaf-key',
        dir.path('leaf.key'),
        '--output',
        output,
      ],
      { cwd: dir.dir },
    );

  it('writes --output /dev/stdout to the standard output (a shell pipe), the PEM alone', async () => {
    // Through sh and cat: node's own child stdout is a socket, which /dev/stdout cannot open.
    const command = `"${process.execPath}" "${CLI_JS}" certificates csr --generate-keys ecdsa-p256 --leaf-key "${dir.path('leaf.key')}" --output /dev/stdout | cat`;
    const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>(
      (resolve, reject) =>
        execFile(
          'sh',
          ['-c', command],
          {
            cwd: dir.dir,
            env: { PATH: process.env['PATH'] ?? '', HOME: dir.dir },
            encoding: 'utf8',
          },
          (error, out, err) =>
            error ? reject(new Error(err)) : resolve({ stdout: out, stderr: err }),
        ),
    );
    // The summary would corrupt the PEM for the next command of the pipe: it goes to stderr.
    expect(stdout).toMatch(
      /^-----BEGIN CERTIFICATE REQUEST-----\n[\s\S]+-----END CERTIFICATE REQUEST-----\n$/,
    );
    expect(stderr).toBe('Wrote certificate request to /dev/stdout\n');
  });

  it('replaces a link to /dev/null in the output folder rather than writing through it', async () => {
    symlinkSync('/dev/null', dir.path('leaf.csr'));
    const result = await csr('leaf.csr');
    expect(result.code, result.stderr).toBe(0);
    expect(lstatSync(dir.path('leaf.csr')).isFile()).toBe(true);
    expect(readFileSync(dir.path('leaf.csr'), 'utf8')).toMatch(/^-----BEGIN CERTIFICATE REQUEST/);
  });
});

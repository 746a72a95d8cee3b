import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificatesCommand } from '../../../src/cli/timestamp-cli/certificates-command.js';
import { CliError } from '../../../src/cli/timestamp-cli/output.js';
import { timestampCommand } from '../../../src/cli/timestamp-cli/timestamp-command.js';
import { checkOutputFile, writeOutputFile } from '../../../src/cli/timestamp-cli/write-output.js';
import { tempDir } from '../../helpers/openssl.js';

/** File errors name the user's path: never Node's bare "EISDIR … read", nor a temporary file. */
describe('timestamp-cli file errors', () => {
  const dir = tempDir();
  let server: Server;
  let url: string;
  let requests = 0;

  beforeAll(async () => {
    server = createServer((request, response) => {
      requests++;
      request.resume();
      request.on('end', () => response.writeHead(500).end('{"message":"not here"}'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    dir.write('artifact', 'artifact');
    mkdirSync(dir.path('folder'));
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    dir.cleanup();
  });

  /** The first of this process's descriptors whose link starts with `prefix`: one of Node's own. */
  function runtimeDescriptor(prefix: string): number {
    const descriptors = readdirSync('/proc/self/fd')
      .map(Number)
      .filter((fd) => fd > 2);
    const found = descriptors
      .sort((a, b) => a - b)
      .find((fd) => {
        try {
          const link = readlinkSync(`/proc/self/fd/${fd}`);
          // A pipe with both ends here (libuv's): the other end has the same link.
          return prefix === 'pipe:'
            ? link.startsWith(prefix) &&
                descriptors.some(
                  (other) => other !== fd && readlinkSync(`/proc/self/fd/${other}`) === link,
                )
            : link.startsWith(prefix);
        } catch {
          return false;
        }
      });
    expect(found, prefix).toBeDefined();
    return found as number;
  }

  function closedDescriptor(): number {
    const open = new Set(readdirSync('/proc/self/fd').map(Number));
    let descriptor = 900;
    while (open.has(descriptor)) descriptor++;
    return descriptor;
  }

  async function timestamp(args: string[]): Promise<unknown> {
    return timestampCommand(() => ({ timestampServer: url, format: 'default', timeout: 30_000 }), {
      stdout: () => undefined,
      stderr: () => undefined,
    })
      .exitOverride()
      .parseAsync(args, { from: 'user' })
      .then(
        () => undefined,
        (caught: unknown) => caught,
      );
  }

  it('an --artifact that cannot be read: error reading <artifact>: <reason>', async () => {
    const error = await timestamp(['--artifact', dir.path('folder'), '--out', dir.path('a.tsr')]);
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).message).toBe(
      `error reading ${dir.path('folder')}: EISDIR: illegal operation on a directory`,
    );
    expect(requests).toBe(0);
  });

  it.each([
    ['a missing folder', () => dir.path('missing/x.tsr'), 'ENOENT: no such file or directory'],
    [
      'a file as its folder',
      () => dir.path('artifact/x.tsr'),
      `${dir.path('artifact')} is not a folder`,
    ],
    ['a folder', () => dir.path('folder'), 'it is a folder'],
    // resolve() drops the slash; the rename after the token would have failed (ENOTDIR).
    ['a name ending in /', () => `${dir.path('missing')}/`, 'a file name cannot end in /'],
    [
      'an existing file’s name and /',
      () => `${dir.path('artifact')}/`,
      'a file name cannot end in /',
    ],
    // A typo of /dev/null: failed only at the write, after the token was issued.
    [
      'a device that does not exist',
      () => `/dev/tsa-test-${process.pid}-missing`,
      'ENOENT: no such file or directory',
    ],
    // Node's runtime holds descriptors from 3 on: written to, one lost the token (a pipe of
    // libuv's) or crashed the process (its signal pipe).
    [
      'a descriptor of the runtime’s epoll',
      () => `/dev/fd/${runtimeDescriptor('anon_inode:[eventpoll]')}`,
      `descriptor ${runtimeDescriptor('anon_inode:[eventpoll]')} was not given to the command (it is the runtime's own anon_inode:[eventpoll])`,
    ],
    [
      'a descriptor of one of the runtime’s pipes',
      () => `/proc/self/fd/${runtimeDescriptor('pipe:')}`,
      `descriptor ${runtimeDescriptor('pipe:')} was not given to the command (it is the runtime's own ${readlinkSync(`/proc/self/fd/${runtimeDescriptor('pipe:')}`)})`,
    ],
    [
      'a descriptor that is not open',
      () => `/dev/fd/${closedDescriptor()}`,
      `descriptor ${closedDescriptor()} is not open (give it to the command, e.g. ${closedDescriptor()}>file)`,
    ],
  ])(
    'an --out in %s: refused before the TSA is asked for a token, naming --out',
    async (_, out, why) => {
      const error = await timestamp(['--artifact', dir.path('artifact'), '--out', out()]);
      expect(error).toBeInstanceOf(CliError);
      expect((error as CliError).message).toBe(`error writing ${out()}: ${why}`);
      expect(requests).toBe(0);
    },
  );

  it('an --out that is the --artifact, by name or through a link: refused before the TSA is asked', async () => {
    symlinkSync(dir.path('artifact'), dir.path('artifact-link'));
    for (const out of [
      dir.path('artifact'),
      dir.path('folder/../artifact'),
      dir.path('artifact-link'),
    ]) {
      const error = await timestamp(['--artifact', dir.path('artifact'), '--out', out]);
      expect((error as CliError).code).toBe('USAGE');
      expect((error as CliError).message).toBe(
        `--out ${out} is the --artifact file: writing the response there would destroy what it timestamps`,
      );
    }
    expect(readFileSync(dir.path('artifact'), 'utf8')).toBe('artifact');
    expect(requests).toBe(0);
  });

  it('certificates csr: an --output that cannot be written is refused before a key is generated', async () => {
    const error = await certificatesCommand(() => ({ format: 'default' }), {
      stdout: () => undefined,
      stderr: () => undefined,
    })
      .parseAsync(
        [
          'csr',
          '--generate-keys',
          'ecdsa-p256',
          '--leaf-key',
          dir.path('new.key'),
          '--output',
          dir.path('missing/leaf.csr'),
        ],
        { from: 'user' },
      )
      .then(
        () => undefined,
        (caught: unknown) => caught,
      );
    expect((error as CliError).message).toBe(
      `error writing ${dir.path('missing/leaf.csr')}: ENOENT: no such file or directory`,
    );
    expect(existsSync(dir.path('new.key'))).toBe(false);
    // The key's own folder is writable: only the output was refused.
    await expect(checkOutputFile(dir.path('new.key'))).resolves.toBeUndefined();
  });

  it('a write that fails names the output, not the temporary file beside it', async () => {
    const out = `/dev/tsa-test-${process.pid}-missing`;
    await expect(writeOutputFile(out, 'x', 0o600)).rejects.toThrow(
      new CliError('FILE', `error writing ${out}: ENOENT: no such file or directory`),
    );
    const nested = dir.path('missing/x.tsr');
    const error = await writeOutputFile(nested, 'x', 0o600).catch((caught: unknown) => caught);
    expect((error as CliError).message).toBe(
      `error writing ${nested}: ENOENT: no such file or directory`,
    );
  });
});

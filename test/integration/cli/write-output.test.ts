import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  constants,
  createReadStream,
  existsSync,
  lstatSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { temporaryName, writeFileAtomic } from '../../../src/cli/timestamp-cli/write-output.js';
import { CLI_JS } from '../../helpers/cli.js';
import { openssl, tempDir } from '../../helpers/openssl.js';
import { runToEnd } from '../../helpers/process.js';
import { REPO_ROOT } from '../../helpers/spawn-server.js';

describe('writeFileAtomic', () => {
  it('writes a FIFO as it is (--out >(cmd), /dev/stdout), not a file renamed over it', async () => {
    const dir = tempDir();
    try {
      const fifo = dir.path('out.fifo');
      execFileSync('mkfifo', [fifo]);
      const read = new Promise<string>((resolve, reject) => {
        let text = '';
        createReadStream(fifo, 'utf8')
          .on('data', (chunk) => (text += String(chunk)))
          .on('end', () => resolve(text))
          .on('error', reject);
      });
      await writeFileAtomic(fifo, 'response', 0o600);
      expect(await read).toBe('response');
      expect(statSync(fifo).isFIFO()).toBe(true);
    } finally {
      dir.cleanup();
    }
  });

  it('writes an existing file in place when its folder refuses new files, never through a link', async () => {
    const dir = tempDir();
    try {
      const out = dir.write('out.tsr', 'old');
      const victim = dir.write('victim.txt', 'keep me');
      symlinkSync(victim, dir.path('link.tsr'));
      chmodSync(dir.dir, 0o500);
      try {
        await writeFileAtomic(out, 'new', 0o600);
        // In place, or (as root, whom the folder's mode does not stop) renamed: the same result.
        expect(readFileSync(out, 'utf8')).toBe('new');
        expect(statSync(out).mode & 0o777).toBe(0o600);
        // A link in a read-only folder: refused in place (O_NOFOLLOW), or replaced as root.
        const linked = await writeFileAtomic(dir.path('link.tsr'), 'new', 0o600).then(
          () => 'written',
          (error: NodeJS.ErrnoException) => error.code,
        );
        expect(readFileSync(victim, 'utf8')).toBe('keep me');
        if (linked === 'written') expect(lstatSync(dir.path('link.tsr')).isFile()).toBe(true);
        else expect(linked).toBe('ELOOP');
      } finally {
        chmodSync(dir.dir, 0o700);
      }
    } finally {
      dir.cleanup();
    }
  });

  /** A FIFO with a reader that never blocks, so a write through a link to it completes. */
  function openFifo(path: string): { read: () => string; close: () => void } {
    execFileSync('mkfifo', [path]);
    const reader = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    return {
      read: () => {
        const buffer = Buffer.alloc(1024);
        try {
          return buffer.subarray(0, readSync(reader, buffer)).toString();
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'EAGAIN') return '';
          throw error;
        }
      },
      close: () => closeSync(reader),
    };
  }

  it('replaces a symlink to a FIFO or a device instead of writing through it', async () => {
    const dir = tempDir();
    const fifo = openFifo(dir.path('victim.fifo'));
    try {
      symlinkSync(dir.path('victim.fifo'), dir.path('to-fifo.tsr'));
      symlinkSync('/dev/null', dir.path('to-null.tsr'));
      for (const link of ['to-fifo.tsr', 'to-null.tsr']) {
        await writeFileAtomic(dir.path(link), 'response', 0o600);
        expect(lstatSync(dir.path(link)).isFile()).toBe(true);
        expect(readFileSync(dir.path(link), 'utf8')).toBe('response');
      }
      expect(fifo.read()).toBe('');
      expect(statSync(dir.path('victim.fifo')).isFIFO()).toBe(true);
      expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
    } finally {
      fifo.close();
      dir.cleanup();
    }
  });

  it('follows the links of an explicit /dev/fd/N or /proc/self/fd/N (--out /dev/stdout)', async () => {
    const dir = tempDir();
    const fifo = openFifo(dir.path('out.fifo'));
    // The descriptor a shell would hand over (>(cmd) is /dev/fd/63; /dev/stdout is /proc/self/fd/1).
    const writer = openSync(dir.path('out.fifo'), constants.O_WRONLY | constants.O_NONBLOCK);
    try {
      await writeFileAtomic(`/dev/fd/${writer}`, 'one,', 0o600);
      await writeFileAtomic(`/proc/self/fd/${writer}`, 'two', 0o600);
      expect(fifo.read()).toBe('one,two');
      expect(statSync(dir.path('out.fifo')).isFIFO()).toBe(true);
    } finally {
      closeSync(writer);
      fifo.close();
      dir.cleanup();
    }
  });

  it('timestamp-cli writes the descriptors the shell gives it (3>file, 4>&1 into a pipe), whatever the runtime set on them', async () => {
    // Node sets close-on-exec on descriptors 0 to 15 at start-up, inherited ones too: the
    // refusal of the runtime's own descriptors must not refuse these.
    const dir = tempDir();
    try {
      for (const key of ['root', 'leaf'])
        await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', dir.path(`${key}.key`)]); // prettier-ignore
      const cli = `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI_JS)} certificates create --root-key ${dir.path('root.key')} --leaf-key ${dir.path('leaf.key')}`;
      // A file, and a pipe whose reading end is another process's, given twice (4>&1): the
      // runtime's own pipes are the ones with both ends here.
      for (const [redirection, file] of [
        [`--output /dev/fd/3 3>${dir.path('chain.pem')}`, 'chain.pem'],
        [`--output /dev/fd/4 4>&1 | cat > ${dir.path('piped.pem')}`, 'piped.pem'],
      ] as const) {
        const run = await runToEnd('bash', ['-o', 'pipefail', '-c', `${cli} ${redirection}`]);
        expect(run.status, run.stderr).toBe(0);
        expect(readFileSync(dir.path(file), 'utf8')).toMatch(/^-----BEGIN CERTIFICATE-----/);
      }
    } finally {
      dir.cleanup();
    }
  });

  it('writes /dev/stdout and /dev/stderr through the process, also where they are sockets', async () => {
    // A Node parent's stdio is a socket pair, which Linux refuses to open anew (ENXIO).
    const dir = tempDir();
    try {
      const module = pathToFileURL(join(REPO_ROOT, 'src/cli/timestamp-cli/write-output.ts')).href;
      const script = dir.write(
        'write.mts',
        `import { writeFileAtomic } from ${JSON.stringify(module)};\n` +
          `for (const path of process.argv.slice(2)) await writeFileAtomic(path, path + ',', 0o600);\n`,
      );
      const paths = ['/dev/stdout', '/dev/fd/1', '/proc/self/fd/1', '/dev/stderr', '/dev/fd/2'];
      const child = await runToEnd(process.execPath, ['--import', 'tsx', script, ...paths]);
      expect(child.stderr).toBe('/dev/stderr,/dev/fd/2,');
      expect(child.stdout).toBe('/dev/stdout,/dev/fd/1,/proc/self/fd/1,');
      expect(child.status).toBe(0);
    } finally {
      dir.cleanup();
    }
  });

  it('cuts the temporary file’s name to fit, so a name of 255 bytes may be written', async () => {
    const dir = tempDir();
    try {
      // 'é' is two bytes: the name is cut by whole characters.
      for (const name of [`${'a'.repeat(251)}.tsr`, `${'é'.repeat(125)}.tsr`]) {
        await writeFileAtomic(dir.path(name), 'response', 0o600);
        expect(readFileSync(dir.path(name), 'utf8')).toBe('response');
      }
      const temporary = temporaryName('é'.repeat(125));
      expect(Buffer.byteLength(temporary)).toBeLessThanOrEqual(255);
      expect(temporary).toMatch(/^\.é+\.[0-9a-f]{12}\.tmp$/);
    } finally {
      dir.cleanup();
    }
  });

  // Another user's file in a sticky folder: only root can make one, and run the writer as another.
  if (process.getuid?.() === 0) {
    it('writes another user’s writable file in a sticky folder (/tmp) in place; one it cannot write is refused before the work', async () => {
      const dir = tempDir();
      try {
        chmodSync(dir.dir, 0o1777);
        const writable = dir.write('writable.tsr', 'old');
        chmodSync(writable, 0o666);
        const readOnly = dir.write('read-only.tsr', 'old');
        chmodSync(readOnly, 0o644);
        const link = dir.path('link.tsr');
        symlinkSync(writable, link);
        const module = pathToFileURL(join(REPO_ROOT, 'src/cli/timestamp-cli/write-output.ts')).href;
        const script = dir.write(
          'write.mts',
          `import { checkOutputFile, writeFileAtomic } from ${JSON.stringify(module)};\n` +
            `const [writable, readOnly, link] = process.argv.slice(2);\n` +
            `await checkOutputFile(writable);\n` +
            `await writeFileAtomic(writable, 'new', 0o644);\n` +
            `await checkOutputFile(readOnly).catch((error) => console.log(error.message));\n` +
            `await checkOutputFile(link).catch((error) => console.log(error.message));\n`,
        );
        chmodSync(script, 0o644);
        const child = await runToEnd('runuser', [
          '-u',
          'nobody',
          '--',
          process.execPath,
          '--import',
          'tsx',
          script,
          writable,
          readOnly,
          link,
        ]);
        expect(child.stderr).toBe('');
        expect(child.stdout).toBe(
          `error writing ${readOnly}: EACCES: permission denied\n` +
            `error writing ${link}: it is another user's link in a sticky folder, which only its owner may replace\n`,
        );
        expect(child.status).toBe(0);
        expect(readFileSync(writable, 'utf8')).toBe('new');
        expect(statSync(writable).uid).toBe(0);
      } finally {
        dir.cleanup();
      }
    });
  }

  it('writes a file in a folder below /dev (the /dev/shm tmpfs) as any other: created, then replaced whole', async () => {
    const path = `/dev/shm/tsa-test-${process.pid}.tsr`;
    try {
      await writeFileAtomic(path, 'one', 0o600);
      await writeFileAtomic(path, 'two', 0o600);
      expect(readFileSync(path, 'utf8')).toBe('two');
      expect(statSync(path).mode & 0o777).toBe(0o600);
    } finally {
      rmSync(path, { force: true });
    }
  });

  it('never creates a file under /dev: a device path that does not exist is an error', async () => {
    const path = `/dev/tsa-test-${process.pid}-missing`;
    try {
      await expect(writeFileAtomic(path, 'response', 0o600)).rejects.toMatchObject({
        code: 'ENOENT',
      });
      expect(existsSync(path)).toBe(false);
    } finally {
      if (existsSync(path)) execFileSync('rm', ['-f', path]);
    }
  });
});

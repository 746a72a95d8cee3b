import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  createReadStream,
  lstatSync,
  readFileSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../../src/cli/timestamp-cli/write-output.js';
import { tempDir } from '../../helpers/openssl.js';

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
});

import { randomBytes } from 'node:crypto';
import { constants, statSync } from 'node:fs';
import { access, lstat, open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { descriptorPathProblem } from './descriptor-path.js';
import { CliError, fileErrorReason, type Output } from './output.js';

/** The mode of what the CLI writes that holds nothing secret (a chain, a CSR, a checkpoint, a proof). */
export const PUBLIC_FILE_MODE = 0o644;

/**
 * A path that names a device or one of the process's descriptors (`--out /dev/stdout`, /dev/null,
 * `>(cmd)`'s /dev/fd/63): reached through links by design (to a file the shell opened, a pipe, a
 * terminal), and never a place to create a file in. Files in the folders below /dev (a tmpfs at
 * /dev/shm) are files like any other.
 */
const DEVICE_PATH = /^\/(dev\/[^/]+|dev\/fd\/\d+|proc\/self\/fd\/\d+)$/;

/** S_ISVTX, which Node's fs.constants leaves out. */
const STICKY_BIT = 0o1000;

/**
 * The names of this process's standard output and error. Linux opens /proc/self/fd/N anew, which
 * a socket refuses (ENXIO: a Node parent's stdio is a socket pair), so these are written through
 * the process's own streams instead, as the shell meant.
 */
const STANDARD_STREAMS = new Map<string, () => NodeJS.WriteStream>([
  ['/dev/stdout', () => process.stdout],
  ['/dev/fd/1', () => process.stdout],
  ['/proc/self/fd/1', () => process.stdout],
  ['/dev/stderr', () => process.stderr],
  ['/dev/fd/2', () => process.stderr],
  ['/proc/self/fd/2', () => process.stderr],
]);

/**
 * Whether `path` names this process's standard output: a command then prints its summary line on
 * stderr, so that what it wrote there (a DER response, a PEM chain) can be piped on intact.
 */
export function isStandardOutput(path: string): boolean {
  return STANDARD_STREAMS.get(resolve(path))?.() === process.stdout;
}

/** Whether two paths name one file: the same path, or (through links) the same inode. */
export function sameFile(a: string, b: string): boolean {
  if (resolve(a) === resolve(b)) return true;
  try {
    const [x, y] = [statSync(a), statSync(b)];
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

/**
 * Whether `path` names a device or a descriptor (DEVICE_PATH, the standard streams): two such
 * names may reach one terminal, and reading one while writing the other destroys nothing.
 */
export function isDevicePath(path: string): boolean {
  const absolute = resolve(path);
  return STANDARD_STREAMS.has(absolute) || DEVICE_PATH.test(absolute);
}

/** Where a command's summary of writing `path` goes: stderr when `path` is the stdout itself. */
export function summaryStream(output: Output, path: string): (text: string) => void {
  return isStandardOutput(path) ? output.stderr : output.stdout;
}

/**
 * writeFileAtomic for a command's output: a failure is one line naming `path`, never the
 * temporary file beside it ("ENOENT: … open '/x/.out.tsr.<random>.tmp'").
 */
export async function writeOutputFile(
  path: string,
  data: string | Uint8Array,
  mode: number,
): Promise<void> {
  try {
    await writeFileAtomic(path, data, mode);
  } catch (error) {
    throw new CliError('FILE', `error writing ${path}: ${fileErrorReason(error)}`, {
      cause: error,
    });
  }
}

/**
 * Refuses, before the work whose result it is to hold (a token the TSA issues and logs, keys
 * generated), an output that cannot be written: a folder, or a path whose folder is missing, not
 * a folder, or not writable (unless the file exists and is writable: it is then written in place);
 * a device that does not exist (`/dev/nul`), or a descriptor the command was not given.
 */
export async function checkOutputFile(path: string): Promise<void> {
  const absolute = resolve(path);
  if (STANDARD_STREAMS.has(absolute)) return;
  const refused = (why: string) => new CliError('FILE', `error writing ${path}: ${why}`);
  if (DEVICE_PATH.test(absolute)) {
    const problem = descriptorPathProblem(absolute);
    if (problem) throw refused(problem);
    await stat(absolute).catch((error: unknown) => {
      throw refused(fileErrorReason(error));
    });
    return;
  }
  // resolve() drops the slash, which the write would not: `nodir/` failed only after the work.
  if (path.endsWith('/')) throw refused('a file name cannot end in /');
  if ((await stat(absolute).catch(() => undefined))?.isDirectory()) throw refused('it is a folder');
  try {
    const folder = await stat(dirname(absolute));
    if (!folder.isDirectory()) throw refused(`${dirname(path)} is not a folder`);
    await access(dirname(absolute), constants.W_OK | constants.X_OK);
    // A sticky folder (/tmp) lets only the file's or the folder's owner replace a file: anyone
    // else's is written in place, so it must be writable itself; a link is never written through.
    const file = await lstat(absolute).catch(() => undefined);
    const uid = process.getuid?.();
    if (
      file &&
      (folder.mode & STICKY_BIT) !== 0 &&
      uid !== 0 &&
      file.uid !== uid &&
      folder.uid !== uid
    ) {
      if (file.isSymbolicLink())
        throw refused(
          "it is another user's link in a sticky folder, which only its owner may replace",
        );
      if (file.isFile()) await access(absolute, constants.W_OK);
    }
  } catch (error) {
    if (error instanceof CliError) throw error;
    const writable = await access(absolute, constants.W_OK).then(
      () => true,
      () => false,
    );
    if (!writable) throw refused(fileErrorReason(error));
  }
}

/**
 * Writes `data` to `path` atomically with `mode`: into a new file beside it (created exclusively,
 * so never through a link), flushed, then renamed over `path`. A reader sees the old file or the
 * whole new one, never a truncated one; a symlink at `path` is replaced, not followed, whatever it
 * points to (a file, a FIFO, a device), so its target is neither written nor re-moded; and the
 * mode is the new file's own, whatever an existing file had. Written in place instead: the
 * process's stdout or stderr (STANDARD_STREAMS), through its stream; another device or descriptor
 * path (DEVICE_PATH), through its links and appended to (as the shell's stdout would be); a FIFO,
 * socket or device that is itself at `path`; and an existing file in a folder the process may not
 * create files in.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  mode: number,
): Promise<void> {
  const absolute = resolve(path);
  const stream = STANDARD_STREAMS.get(absolute);
  if (stream) return writeToStream(stream(), data);
  // Renaming a file over such a name would lose the output (and, as root, litter /dev).
  if (DEVICE_PATH.test(absolute)) {
    const problem = descriptorPathProblem(absolute);
    if (problem) throw new CliError('FILE', problem);
    return writeInPlace(path, data, constants.O_WRONLY | constants.O_APPEND);
  }
  const target = await lstat(path).catch(() => undefined);
  if (target && !target.isFile() && !target.isSymbolicLink())
    return writeInPlace(path, data, constants.O_WRONLY | constants.O_NOFOLLOW);
  const temporary = join(dirname(path), temporaryName(basename(path)));
  let file;
  try {
    file = await open(temporary, 'wx', mode);
  } catch (error) {
    // A file that may be written in a folder that may not: written in place, truncated, never
    // through a link (O_NOFOLLOW), so a symlink there still cannot redirect the write.
    const code = (error as NodeJS.ErrnoException).code;
    if (target && (code === 'EACCES' || code === 'EPERM' || code === 'EROFS')) {
      return writeInPlace(
        path,
        data,
        constants.O_WRONLY | constants.O_TRUNC | constants.O_NOFOLLOW,
        mode,
      );
    }
    throw error;
  }
  try {
    try {
      await file.writeFile(data);
      // The process umask may have cleared bits of `mode` on creation; set it exactly.
      await file.chmod(mode);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    // Someone else's file in a sticky folder (/tmp): only its owner may replace it, so it is
    // written in place where the file itself is writable.
    const code = (error as NodeJS.ErrnoException).code;
    if (target?.isFile() && (code === 'EPERM' || code === 'EACCES'))
      return writeInPlace(
        path,
        data,
        constants.O_WRONLY | constants.O_TRUNC | constants.O_NOFOLLOW,
      );
    throw error;
  }
}

/** The longest file name most file systems take (NAME_MAX), in bytes. */
const NAME_MAX = 255;

/**
 * `.NAME.<random>.tmp`, the file written before it is renamed to NAME: NAME cut (whole
 * characters) where the whole would pass NAME_MAX, since any name that fits may be asked for.
 */
export function temporaryName(name: string): string {
  const suffix = `.${randomBytes(6).toString('hex')}.tmp`;
  let kept = name;
  while (Buffer.byteLength(`.${kept}${suffix}`) > NAME_MAX) kept = [...kept].slice(0, -1).join('');
  return `.${kept}${suffix}`;
}

/** Writes `data` into the existing `path` opened with `flags`; sets `mode` where it may. */
async function writeInPlace(
  path: string,
  data: string | Uint8Array,
  flags: number,
  mode?: number,
): Promise<void> {
  const file = await open(path, flags);
  try {
    await file.writeFile(data);
    // Someone else's file keeps its mode; ours gets the one asked for.
    if (mode !== undefined) await file.chmod(mode).catch(() => undefined);
  } finally {
    await file.close();
  }
}

/** Writes `data` to the process's own stdout or stderr, settled once the stream took it. */
function writeToStream(stream: NodeJS.WriteStream, data: string | Uint8Array): Promise<void> {
  // The output itself (a token, a chain) on stdout: a reader gone meanwhile ends the process with
  // 1, not quietly (timestamp-cli.ts's EPIPE handler keeps the status set so far).
  const status = process.exitCode;
  if (stream === process.stdout) process.exitCode = 1;
  return new Promise((resolve, reject) => {
    stream.write(data, (error) => {
      if (error) return reject(error);
      if (stream === process.stdout) process.exitCode = status;
      resolve();
    });
  });
}

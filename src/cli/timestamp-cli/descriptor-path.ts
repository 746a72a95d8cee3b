import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { resolve } from 'node:path';

/** /dev/fd/N or /proc/self/fd/N: one of this process's open descriptors. */
const DESCRIPTOR_PATH = /^\/(?:dev\/fd|proc\/self\/fd)\/(\d+)$/;
const DESCRIPTORS = '/proc/self/fd';
/** open(2)'s access mode bits, as /proc/self/fdinfo/N's octal `flags` hold them. */
const O_ACCMODE = 0o3;

/**
 * Why a descriptor path (`/dev/fd/N`, `/proc/self/fd/N`, N from 3) names no descriptor the shell
 * could have given this process (`3>file`, `>(cmd)`'s /dev/fd/63), or undefined. Node's runtime
 * holds descriptors of its own from 3 on: libuv's epoll and eventfd instances, and pipes whose two
 * ends it holds both (its signal pipe among them). Written to, one loses the output or crashes
 * the process; read, one hangs. Those are told apart by what they are: an anon_inode, or a pipe
 * whose other end (the other access mode) is open here too, where a pipe the shell gives has its
 * other end in another process. (Close-on-exec tells nothing: Node sets it on descriptors 0 to 15
 * at start-up, inherited ones included.) Without /proc (not Linux) nothing is told: undefined.
 * `path` is taken as given and resolved here, as the readers and the writer are handed it.
 */
export function descriptorPathProblem(path: string): string | undefined {
  const match = DESCRIPTOR_PATH.exec(resolve(path));
  const descriptor = Number(match?.[1] ?? NaN);
  if (!(descriptor > 2) || !existsSync(DESCRIPTORS)) return undefined;
  const target = linkOf(descriptor);
  if (target === undefined)
    return `descriptor ${descriptor} is not open (give it to the command, e.g. ${descriptor}>file)`;
  const runtimes = `descriptor ${descriptor} was not given to the command (it is the runtime's own ${target})`;
  if (target.startsWith('anon_inode:')) return runtimes;
  if (target.startsWith('pipe:')) {
    const mode = accessMode(descriptor);
    const otherEnd = readdirSync(DESCRIPTORS)
      .map(Number)
      .some(
        (other) => other !== descriptor && linkOf(other) === target && accessMode(other) !== mode,
      );
    if (otherEnd) return runtimes;
  }
  return undefined;
}

function linkOf(descriptor: number): string | undefined {
  try {
    return readlinkSync(`${DESCRIPTORS}/${descriptor}`);
  } catch {
    return undefined;
  }
}

function accessMode(descriptor: number): number | undefined {
  try {
    const flags = /^flags:\s*([0-7]+)$/m.exec(
      readFileSync(`/proc/self/fdinfo/${descriptor}`, 'latin1'),
    )?.[1];
    return flags === undefined ? undefined : parseInt(flags, 8) & O_ACCMODE;
  } catch {
    return undefined;
  }
}

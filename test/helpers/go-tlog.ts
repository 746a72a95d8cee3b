import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { childEnvironment, REPO_ROOT } from './process.js';

const run = promisify(execFile);

/**
 * Builds the Go program test/fixtures/NAME/main.go offline into `dir`, with its own GOCACHE and
 * HOME (whatever go writes below HOME stays in `dir`), with the local toolchain whatever
 * GOTOOLCHAIN the shell sets, and Debian's Go packages (GOPATH /usr/share/gocode); returns the
 * binary.
 */
export async function buildGoFixture(dir: string, name: string): Promise<string> {
  const bin = join(dir, name);
  await run('go', ['build', '-o', bin, join(REPO_ROOT, `test/fixtures/${name}/main.go`)], {
    env: childEnvironment({
      HOME: dir,
      GOPATH: '/usr/share/gocode',
      GO111MODULE: 'off',
      GOCACHE: join(dir, 'gocache'),
      GOFLAGS: '',
      GOTOOLCHAIN: 'local',
      CGO_ENABLED: '0',
    }),
  });
  return bin;
}

/**
 * Builds test/fixtures/go-tlog (Go's golang.org/x/mod/sumdb/{note,tlog} from Debian's
 * golang-golang-x-mod-dev) into `dir`; returns the binary.
 */
export const buildGoTlog = (dir: string): Promise<string> => buildGoFixture(dir, 'go-tlog');

/** Runs the Go cross-checker; resolves to its stdout, rejects with its stderr in the message. */
export async function goTlog(bin: string, ...args: string[]): Promise<string> {
  try {
    return (await run(bin, args, { env: childEnvironment() })).stdout;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`go-tlog ${args.join(' ')} failed: ${stderr}`, { cause: error });
  }
}

/** Writes the files `go-tlog verify DIR` reads. */
export async function writeGoTlogDir(
  dir: string,
  files: {
    vkey: string;
    checkpoint: string;
    entries: ReadonlyMap<number, Uint8Array>;
    proofs: ReadonlyMap<number, string>;
    tiles: ReadonlyMap<string, Uint8Array>;
    oldCheckpoint?: string;
    consistency?: string;
  },
): Promise<void> {
  const put = async (name: string, data: string | Uint8Array): Promise<void> => {
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, name), data);
  };
  await put('vkey', `${files.vkey}\n`);
  await put('checkpoint', files.checkpoint);
  for (const [index, entry] of files.entries) await put(`entry/${index}`, entry);
  for (const [index, proof] of files.proofs) await put(`proof/${index}`, proof);
  for (const [path, data] of files.tiles) await put(path, data);
  if (files.oldCheckpoint !== undefined) await put('old-checkpoint', files.oldCheckpoint);
  if (files.consistency !== undefined) await put('consistency', files.consistency);
}

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { querySntp } from '../../src/clock/sntp-client.js';
import { selfSignedTls } from '../fakes/tls.js';
import { tempDir } from './openssl.js';
import { childEnvironment, reapChild } from './process.js';

/** A free UDP port on 127.0.0.1 (bound, read, released). */
export async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/** A free TCP port on 127.0.0.1 (NTS-KE runs over TLS on TCP). */
export async function freeTcpPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface Chrony {
  readonly port: number;
  readonly output: () => string;
  stop(): Promise<void>;
}

/** /usr/sbin is not on every user's PATH. */
const CHRONYD = existsSync('/usr/sbin/chronyd') ? '/usr/sbin/chronyd' : 'chronyd';

/**
 * Runs `chronyd -d -x -f conf` (never touching the system clock) in its own process group, as the
 * current user: as root `-u root` (else chronyd drops to _chrony, which can read neither the
 * temporary key nor the directories), otherwise `-U -u <me>` (chronyd refuses non-root otherwise).
 * With skewSeconds it runs under faketime, so it serves a clock that far ahead. Its environment is
 * childEnvironment()'s; the group is killed (reapChild) if the test fails with it still running.
 */
function spawnChronyd(conf: string, skewSeconds = 0) {
  const chronyd = [CHRONYD, '-d', '-x', '-f', conf];
  if (process.getuid?.() === 0) chronyd.push('-u', 'root');
  else chronyd.push('-U', '-u', userInfo().username);
  if (skewSeconds) removeStaleFaketimeFiles();
  const command = skewSeconds
    ? ['faketime', '-f', `${skewSeconds >= 0 ? '+' : ''}${skewSeconds}s`, ...chronyd]
    : chronyd;
  // Its own process group: faketime forks chronyd, and stop() must end both.
  const child: ChildProcess = spawn(command[0]!, command.slice(1), {
    detached: true,
    env: childEnvironment(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // A detached group outlives this process: killed whole, should the test fail before stop().
  reapChild(child, { group: true });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = once(child, 'exit');
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid) {
      // Under faketime, chronyd alone: the wrapper then exits by itself and removes its /dev/shm
      // semaphore and segment, which a signal to it leaves behind (a later wrapper given the same
      // pid then fails "sem_open: File exists").
      const chronyds = skewSeconds ? childrenOf(child.pid) : [];
      try {
        if (chronyds.length > 0) chronyds.forEach((pid) => process.kill(pid, 'SIGTERM'));
        else process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      await exited;
    }
  };
  return { child, output: () => output, stop };
}

function childrenOf(pid: number): number[] {
  const { stdout } = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' });
  return stdout.split('\n').filter(Boolean).map(Number);
}

/**
 * Removes what faketime wrappers that were killed left in /dev/shm (`sem.faketime_sem_<pid>`,
 * `faketime_shm_<pid>`), for processes that no longer exist: a new wrapper whose pid is one of
 * theirs fails at start.
 */
function removeStaleFaketimeFiles(): void {
  const alive = (pid: number) => existsSync(`/proc/${pid}`);
  for (const name of existsSync('/dev/shm') ? readdirSync('/dev/shm') : []) {
    const pid = /^(?:sem\.faketime_sem|faketime_shm)_(\d+)$/.exec(name)?.[1];
    if (pid !== undefined && !alive(Number(pid))) rmSync(`/dev/shm/${name}`, { force: true });
  }
}

/**
 * Waits until `ready` resolves, failing with chronyd's output when it exits or takes 120 s: not a
 * measure of speed (chronyd answers within a second), a net that reports chronyd's output well
 * before the hook's 300 s timeout would end the test without it.
 */
async function waitReady(
  spawned: ReturnType<typeof spawnChronyd>,
  ready: () => Promise<unknown>,
  what: string,
): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (spawned.child.exitCode !== null) {
      await spawned.stop();
      throw new Error(`chronyd exited with ${spawned.child.exitCode}:\n${spawned.output()}`);
    }
    try {
      await ready();
      return;
    } catch (error) {
      if (Date.now() > deadline) {
        await spawned.stop();
        throw new Error(`${what}: ${(error as Error).message}\n${spawned.output()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

const answersSntp = (host: string, port: number) => () =>
  querySntp({ name: 'chronyd', host, port }, { timeoutMs: 200 });

export interface NtpServerOptions {
  /** NTP port on `address`. */
  port: number;
  /** Loopback address to serve on (default 127.0.0.1; 127.0.0.2 is loopback too). */
  address?: string;
  skewSeconds?: number;
  /** Serve NTS: NTS-KE on 127.0.0.1:ntsPort with this certificate and key. */
  nts?: { ntsPort: number; cert: string; key: string };
  /** Where the NTS server keys are kept, so a restarted server still takes its clients' cookies. */
  stateDir?: string;
}

/**
 * A real chronyd NTP (and, with `nts`, NTS) server of its local clock on a loopback address
 * (`local stratum 8`), never touching the system clock (-x), with no command socket, pid or drift
 * file outside its temporary directory. With skewSeconds it runs under faketime, so it serves a
 * clock that far ahead.
 */
export async function startNtpServer(options: NtpServerOptions): Promise<Chrony> {
  const { port, address = '127.0.0.1', skewSeconds = 0, nts } = options;
  const dir = tempDir();
  const state = options.stateDir ?? dir.dir;
  const conf = dir.write(
    'chrony.conf',
    [
      `port ${port}`,
      `bindaddress ${address}`,
      'local stratum 8',
      // Clients on loopback only (a query to 127.0.0.2 may come from 127.0.0.1).
      'allow 127.0.0.0/8',
      // No command port, no command socket (the default one is the system's, /run/chrony).
      'cmdport 0',
      'bindcmdaddress /',
      `pidfile ${dir.path('chronyd.pid')}`,
      ...(nts
        ? [
            `ntsserverkey ${nts.key}`,
            `ntsservercert ${nts.cert}`,
            `ntsport ${nts.ntsPort}`,
            `ntsdumpdir ${state}`,
          ]
        : []),
      '',
    ].join('\n'),
  );
  const spawned = spawnChronyd(conf, skewSeconds);
  const stop = async () => {
    await spawned.stop();
    dir.cleanup();
  };
  try {
    await waitReady(spawned, answersSntp(address, port), `chronyd did not answer on port ${port}`);
    if (nts) {
      await waitReady(
        spawned,
        () =>
          new Promise<void>((resolve, reject) => {
            const socket = connect(nts.ntsPort, '127.0.0.1', () => {
              socket.destroy();
              resolve();
            });
            socket.on('error', reject);
          }),
        `chronyd's NTS-KE did not listen on port ${nts.ntsPort}`,
      );
    }
  } catch (error) {
    // No caller gets stop() then: chronyd is stopped (waitReady did), its folder removed.
    await stop();
    throw error;
  }
  return { port, output: spawned.output, stop };
}

/** A throwaway self-signed certificate for 127.0.0.1 (the NTS server's), in `dir`. */
export async function ntsCertificate(
  dir: string,
  name = 'nts',
): Promise<{ cert: string; key: string }> {
  // selfSignedTls's is what NTS-KE needs: a P-256 key and subjectAltName IP:127.0.0.1.
  const tls = selfSignedTls();
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  writeFileSync(cert, tls.cert);
  writeFileSync(key, tls.key, { mode: 0o600 });
  return { cert, key };
}

export interface ChronyClient {
  /** chronyd's command socket, for --chrony-socket. */
  readonly socket: string;
  readonly output: () => string;
  stop(): Promise<void>;
}

/**
 * A client chronyd (no NTP server port, no UDP command port) polling `sources` (chrony.conf
 * `server` lines) every 1/64 s, never touching the system clock (-x): it only estimates the
 * clock's offset, which is what the TSA reads through the command socket in a temporary folder.
 */
export async function startChronyClient(
  sources: readonly string[],
  extra: readonly string[] = [],
): Promise<ChronyClient> {
  const dir = tempDir();
  mkdirSync(dir.path('state'));
  // chronyd creates the socket's directory itself (0750, its user's) and refuses a looser one.
  const socket = join(dir.path('run'), 'chronyd.sock');
  const conf = dir.write(
    'chrony.conf',
    [
      ...sources,
      ...extra,
      'port 0',
      'cmdport 0',
      `bindcmdaddress ${socket}`,
      `pidfile ${dir.path('chronyd.pid')}`,
      `driftfile ${dir.path('state/drift')}`,
      `ntsdumpdir ${dir.path('state')}`,
      '',
    ].join('\n'),
  );
  const spawned = spawnChronyd(conf);
  const stop = async () => {
    await spawned.stop();
    dir.cleanup();
  };
  try {
    await waitReady(
      spawned,
      async () => {
        if (!existsSync(socket)) throw new Error('no command socket yet');
      },
      'chronyd did not open its command socket',
    );
  } catch (error) {
    // No caller gets stop() then: chronyd is stopped (waitReady did), its folder removed.
    await stop();
    throw error;
  }
  return { socket, output: spawned.output, stop };
}

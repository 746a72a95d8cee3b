import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { querySntp } from '../../src/clock/sntp-client.js';
import { tempDir } from './openssl.js';

/** A free UDP port on 127.0.0.1 (bound, read, released). */
export async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

export interface Chrony {
  readonly port: number;
  readonly output: () => string;
  stop(): Promise<void>;
}

/**
 * A real chronyd serving its local clock on 127.0.0.1:port (`local stratum 8`), never touching the
 * system clock (-x), with no command socket, pid or drift file outside its temporary directory.
 * With skewSeconds it runs under faketime, so it serves a clock that far ahead.
 */
export async function startChrony(port: number, skewSeconds = 0): Promise<Chrony> {
  const dir = tempDir();
  const conf = dir.write(
    'chrony.conf',
    [
      `port ${port}`,
      'bindaddress 127.0.0.1',
      'local stratum 8',
      'allow 127.0.0.1',
      'cmdport 0',
      `pidfile ${dir.path('chronyd.pid')}`,
      '',
    ].join('\n'),
  );
  // /usr/sbin is not on every user's PATH.
  const binary = existsSync('/usr/sbin/chronyd') ? '/usr/sbin/chronyd' : 'chronyd';
  const chronyd = [binary, '-d', '-x', '-f', conf];
  // chronyd refuses to start as a non-root user unless told to stay that user.
  if (process.getuid?.() !== 0) chronyd.push('-U', '-u', userInfo().username);
  const command = skewSeconds
    ? ['faketime', '-f', `${skewSeconds >= 0 ? '+' : ''}${skewSeconds}s`, ...chronyd]
    : chronyd;
  // Its own process group: faketime forks chronyd, and stop() must end both.
  const child: ChildProcess = spawn(command[0]!, command.slice(1), {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = once(child, 'exit');

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      await exited;
    }
    dir.cleanup();
  };

  // Ready once it answers an SNTP query.
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`chronyd exited with ${child.exitCode}:\n${output}`);
    }
    try {
      await querySntp({ name: 'chronyd', host: '127.0.0.1', port }, { timeoutMs: 200 });
      break;
    } catch (error) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(
          `chronyd did not answer on port ${port}: ${(error as Error).message}\n${output}`,
        );
      }
    }
  }
  return { port, output: () => output, stop };
}

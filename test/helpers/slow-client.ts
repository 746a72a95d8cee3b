import { connect, type Socket } from 'node:net';
import { connect as connectTls, type TLSSocket } from 'node:tls';

/** A raw client connection and what the server did to it. */
export interface Observed {
  socket: Socket;
  /** Everything the server sent so far. */
  received(): string;
  /** Resolves when the connection closes: what was received and how long after `watch` it was. */
  closed: Promise<{ received: string; afterMs: number }>;
  /** Whether the connection has closed yet. */
  isClosed(): boolean;
}

/** Watches a socket (plain or TLS) from now on; errors such as ECONNRESET count as a close. */
export function watch(socket: Socket): Observed {
  const started = Date.now();
  let received = '';
  let closed = false;
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  socket.on('error', () => undefined);
  return {
    socket,
    received: () => received,
    isClosed: () => closed,
    closed: new Promise((resolve) =>
      socket.once('close', () => {
        closed = true;
        resolve({ received, afterMs: Date.now() - started });
      }),
    ),
  };
}

/** Opens a TCP connection to the host and port of `url`, resolved once connected. */
export function open(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** A TLS connection to the HTTPS listener at `tlsUrl` speaking HTTP/1.1, resolved once secure. */
export async function openHttps1(tlsUrl: string, ca: string): Promise<TLSSocket> {
  const { hostname, port } = new URL(tlsUrl);
  const socket = connectTls({
    host: hostname,
    port: Number(port),
    ca,
    ALPNProtocols: ['http/1.1'],
  });
  await new Promise((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

/** Writes `data` one byte every `everyMs` until it is all sent, the socket closes or `stop()`. */
export function trickle(
  socket: { write(chunk: Buffer): unknown; destroyed: boolean; writableEnded: boolean },
  data: Buffer | string,
  everyMs: number,
): { stop(): void; sent(): number } {
  const bytes = Buffer.from(data);
  let sent = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || socket.writableEnded || sent >= bytes.length) {
      return clearInterval(timer);
    }
    socket.write(bytes.subarray(sent, sent + 1));
    sent += 1;
  }, everyMs);
  return { stop: () => clearInterval(timer), sent: () => sent };
}

/** A POST of a time-stamp request whose body will be `length` bytes long: headers only. */
export function timestampHeaders(length: number): string {
  return (
    'POST /api/v1/timestamp HTTP/1.1\r\nHost: tsa\r\n' +
    `Content-Type: application/timestamp-query\r\nContent-Length: ${length}\r\n\r\n`
  );
}

/** Writes `data` on a new connection to `url` and resolves with all the server sent before closing. */
export async function sendAndWait(url: string, data: string): Promise<string> {
  const connection = watch(await open(url));
  connection.socket.write(data);
  return (await connection.closed).received;
}

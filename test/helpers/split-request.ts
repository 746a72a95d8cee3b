import { connect, type Socket } from 'node:net';
import { helloTimeStampReq } from '../loadtest/request.js';

export interface RawResponse {
  status: number;
  headers: string;
  body: Buffer;
}

/**
 * The first HTTP/1.1 response in `data` once its head and its Content-Length body are all there,
 * and the bytes after it; undefined until then.
 */
export function takeResponse(data: Buffer): { response: RawResponse; rest: Buffer } | undefined {
  const end = data.indexOf('\r\n\r\n');
  if (end === -1) return undefined;
  const headers = data.subarray(0, end).toString('latin1');
  const length = Number(/content-length: (\d+)/i.exec(headers)?.[1] ?? 0);
  if (data.length < end + 4 + length) return undefined;
  return {
    response: {
      status: Number(headers.split(' ')[1]),
      headers,
      body: data.subarray(end + 4, end + 4 + length),
    },
    rest: data.subarray(end + 4 + length),
  };
}

/** A raw HTTP/1.1 POST whose body is sent in two parts, so the request is in flight in between. */
export function splitRequest(url: string) {
  const { hostname, port } = new URL(url);
  const body = helloTimeStampReq();
  const socket: Socket = connect(Number(port), hostname);
  const response = new Promise<RawResponse>((resolve, reject) => {
    let data = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      const taken = takeResponse(data);
      if (taken) {
        resolve(taken.response);
        socket.end();
      }
    });
    socket.on('error', reject);
    socket.on('close', () =>
      reject(new Error(`connection closed before a response: ${data.toString()}`)),
    );
  });
  const connected = new Promise<void>((resolve) => socket.once('connect', resolve));
  return {
    response,
    sendFirstPart: async () => {
      await connected;
      socket.write(
        `POST /api/v1/timestamp HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/timestamp-query\r\nContent-Length: ${body.length}\r\n\r\n`,
      );
      socket.write(body.subarray(0, 20));
    },
    sendRest: () => socket.write(body.subarray(20)),
  };
}

/** Resolves once new connections to `url` are refused. */
export async function listenerClosed(url: string): Promise<void> {
  const { hostname, port } = new URL(url);
  for (;;) {
    const refused = await new Promise<boolean>((resolve) => {
      const probe = connect(Number(port), hostname);
      probe.once('connect', () => {
        probe.destroy();
        resolve(false);
      });
      probe.once('error', () => resolve(true));
    });
    if (refused) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

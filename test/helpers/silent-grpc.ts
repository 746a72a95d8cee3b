import { createServer, type Http2Session, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';

/** A stream the server was sent, and how it ended. */
export interface SilentStream {
  path: string;
  /** Set once the stream closed: the RST_STREAM code (8 = CANCEL), 0 for a plain end. */
  rstCode?: number;
  /** Whether its connection was still open when the stream closed (a reset, not a client gone). */
  sessionOpenAtClose?: boolean;
}

/**
 * A plaintext HTTP/2 server on 127.0.0.1 that takes gRPC calls and never answers them (a Cloud
 * KMS that hangs, for GCP_KMS_ENDPOINT=http://…): it records each stream and how it ended, so a
 * test sees whether the client really cancelled its call (RST_STREAM CANCEL on a live connection)
 * or only stopped waiting for it.
 */
export async function startFakeSilentGrpcServer() {
  const streams: SilentStream[] = [];
  const sessions = new Set<Http2Session>();
  const server = createServer();
  server.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  server.on('stream', (stream: ServerHttp2Stream, headers) => {
    const seen: SilentStream = { path: String(headers[':path']) };
    streams.push(seen);
    // Read now: a closed stream no longer names its session.
    const session = stream.session;
    stream.on('error', () => undefined);
    stream.resume();
    stream.once('close', () => {
      seen.rstCode = stream.rstCode;
      seen.sessionOpenAtClose = session !== undefined && !session.closed && !session.destroyed;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    streams,
    close: () =>
      new Promise<void>((resolve) => {
        for (const session of sessions) session.destroy();
        server.close(() => resolve());
      }),
  };
}

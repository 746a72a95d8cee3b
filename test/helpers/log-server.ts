import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseTimestampResponse, parseTimestampToken } from '../../src/verify/parse-response.js';
import { acceptedRequest, encoderFor, type Pki } from './pki.js';
import type { TestLog } from './tlog-log.js';

/** A granted response, its token (ContentInfo DER, what the log records) and its serial. */
export interface LoggedToken {
  response: Buffer;
  token: Buffer;
  serial: bigint;
}

/** Issues `count` tokens signed by the PKI's leaf with distinct serials from `firstSerial`. */
export async function issueTokens(
  pki: Pki,
  count: number,
  firstSerial = 0x1000n,
): Promise<LoggedToken[]> {
  const encoder = encoderFor(pki.leaf.signer, [pki.leaf.der], false);
  const tokens: LoggedToken[] = [];
  for (let i = 0; i < count; i++) {
    const serial = firstSerial + BigInt(i);
    const response = await encoder.encode({
      request: acceptedRequest({ artifact: Buffer.from(`artifact ${i}`) }),
      serialNumber: Buffer.from(serial.toString(16).padStart(8, '0'), 'hex'),
      genTime: new Date(),
    });
    tokens.push({ response, token: parseTimestampResponse(response).timestamp.tokenDer, serial });
  }
  return tokens;
}

export interface LogServer {
  url: string;
  /**
   * bodies served instead of the log's, by path under /api/v1/log/; null answers 404, a function
   * answers as it will (or never)
   */
  overrides: Map<string, string | Uint8Array | null | RequestListener>;
  /** paths requested, in order */
  requests: string[];
  /** paths whose next request gets its connection reset instead of an answer */
  resetOnce: Set<string>;
  close(): Promise<void>;
}

/**
 * A static server of a TestLog on 127.0.0.1 with issue 15's routes: GET /api/v1/log/checkpoint,
 * /key, /tile/<L>/<N>[.p/<W>], /tile/entries/<N>[.p/<W>] and /proof?serial=<hex>.
 */
export async function startLogServer(log: TestLog): Promise<LogServer> {
  const overrides = new Map<string, string | Uint8Array | null | RequestListener>();
  const requests: string[] = [];
  const resetOnce = new Set<string>();
  const server: Server = createServer((request, response) => {
    void (async () => {
      const url = new URL(request.url ?? '/', 'http://localhost');
      const path = url.pathname.replace(/^\/api\/v1\/log\//, '');
      requests.push(`${path}${url.search}`);
      if (resetOnce.delete(path)) {
        request.socket.destroy();
        return;
      }
      const override = overrides.get(path);
      if (typeof override === 'function') {
        override(request, response);
        return;
      }
      let body: string | Uint8Array | null | undefined = override;
      if (body === undefined && url.pathname.startsWith('/api/v1/log/')) {
        if (path === 'checkpoint') body = log.signed;
        else if (path === 'key') body = `${log.vkey}\n`;
        else if (path === 'proof') body = await proofBySerial(log, url.searchParams.get('serial'));
        else body = log.tiles.get(path);
      }
      if (body === undefined || body === null) {
        response.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
        return;
      }
      response
        .writeHead(200, {
          'Content-Type':
            typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/octet-stream',
        })
        .end(body);
    })().catch((error: unknown) => {
      response.writeHead(500).end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    overrides,
    requests,
    resetOnce,
    close: () => {
      // A request left unanswered would hold server.close() open.
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** The index of each token's serial number, per log, extended as the log grows. */
const serialIndexes = new WeakMap<TestLog, Map<bigint, number>>();

async function proofBySerial(log: TestLog, serial: string | null): Promise<string | undefined> {
  const hex = serial?.replace(/^0x/i, '');
  if (!hex || !/^[0-9a-f]+$/i.test(hex)) return undefined;
  const indexes = serialIndexes.get(log) ?? new Map<bigint, number>();
  serialIndexes.set(log, indexes);
  for (let i = [...indexes.values()].length; i < log.entries.length; i++) {
    try {
      indexes.set(parseTimestampToken(log.entries[i]!).timestamp.serialNumber, i);
    } catch {
      indexes.set(-1n - BigInt(i), i); // not a token: keeps the count
    }
  }
  const index = indexes.get(BigInt(`0x${hex}`));
  return index !== undefined && index < log.size ? log.proof(index) : undefined;
}

import { randomBytes, randomUUID } from 'node:crypto';
import { listen } from '../fakes/http-server.js';
import { selfSignedTls } from '../fakes/tls.js';

/** What the service answers to every call, whatever was asked. */
export interface OddAnswer {
  status: number;
  contentType: string;
  body: string;
  /** More headers, as a service's request ID. */
  headers?: Record<string, string>;
  /** After `body`, 64 KiB chunks of 'x' for as long as the client reads (a proxy's download). */
  endless?: boolean;
}

/** An HTML page, as a proxy or a load balancer in front of the service answers. */
export const HTML_PAGE: OddAnswer = {
  status: 502,
  contentType: 'text/html',
  body: '<html><body><h1>502 Bad Gateway</h1>\r\n<p>upstream unreachable</p></body></html>',
};

/**
 * A service endpoint on 127.0.0.1 that answers every call with `answer` (changed between calls
 * through the returned object): what a KMS endpoint override aimed at the wrong thing, or a
 * misbehaving proxy, answers. With `azure`, it is https (self-signed) and comes with the managed
 * identity endpoint DefaultAzureCredential needs (its environment in `identityEnv`), and answers
 * the first, unauthenticated call with Key Vault's bearer challenge, so the SDK goes on to the
 * call whose answer is `answer`.
 */
export async function startFakeOddService(options: { azure?: boolean } = {}) {
  const state = { answer: HTML_PAGE, calls: 0, endlessBytes: 0 };
  const identityHeader = randomUUID();
  const accessToken = randomBytes(24).toString('hex');
  const identity = options.azure
    ? await listen((_request, _body, response) => {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(
          JSON.stringify({
            access_token: accessToken,
            expires_on: String(Math.floor(Date.now() / 1000) + 3600),
            resource: 'https://vault.azure.net',
            token_type: 'Bearer',
          }),
        );
      })
    : undefined;
  const tls = options.azure ? selfSignedTls() : undefined;
  const service = await listen((request, _body, response) => {
    if (options.azure && request.headers.authorization !== `Bearer ${accessToken}`) {
      response.writeHead(401, {
        'www-authenticate':
          'Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000", resource="https://vault.azure.net"',
      });
      return response.end();
    }
    state.calls++;
    response.writeHead(state.answer.status, {
      ...state.answer.headers,
      'content-type': state.answer.contentType,
    });
    if (!state.answer.endless) return response.end(state.answer.body);
    response.write(state.answer.body);
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const more = () => {
      while (!response.destroyed) {
        state.endlessBytes += chunk.length;
        if (!response.write(chunk)) return;
      }
    };
    response.on('drain', more);
    more();
  }, tls);
  return {
    origin: service.origin,
    host: `127.0.0.1:${service.port}`,
    cert: tls?.cert,
    identityEnv: identity
      ? { IDENTITY_ENDPOINT: `${identity.origin}/msi/token`, IDENTITY_HEADER: identityHeader }
      : {},
    /** Calls answered with `answer` so far. */
    calls: () => state.calls,
    /** The bytes of endless answers written so far. */
    endlessBytes: () => state.endlessBytes,
    /** Sets what the next calls are answered. */
    answer(answer: OddAnswer) {
      state.answer = answer;
    },
    close: async () => {
      await service.close();
      await identity?.close();
    },
  };
}

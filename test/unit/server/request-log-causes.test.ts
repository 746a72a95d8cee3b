import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import { expect, it } from 'vitest';
import { registerRequestLog } from '../../../src/server/request-log.js';

it("a failed request's line carries its cause's stack the first time, its message after", async () => {
  const lines: { msg: string; err?: { stack?: string; message?: string } }[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const app = Fastify({ loggerInstance: logger, disableRequestLogging: true });
  app.decorateRequest('tsaOutcome', null);
  registerRequestLog(app as unknown as FastifyInstance, app.log);
  app.post('/sign', async (request, reply) => {
    (request as unknown as { tsaOutcome: object }).tsaOutcome = {
      status: 'rejection',
      failInfo: 'systemFailure',
      message: 'signing failed',
      cause: new Error('Vault answered HTTP 403: permission denied'),
    };
    return reply.code(500).send('failed');
  });
  for (let i = 0; i < 3; i++) await app.inject({ method: 'POST', url: '/sign' });
  await app.close();
  const failed = lines.filter((line) => line.msg === 'request failed');
  expect(failed).toHaveLength(3);
  expect(failed[0]?.err?.stack).toMatch(
    /^Error: Vault answered HTTP 403: permission denied\n\s+at /,
  );
  for (const line of failed.slice(1)) {
    expect(line.err).toMatchObject({
      type: 'Error',
      message: 'Vault answered HTTP 403: permission denied',
      stack: 'Error: Vault answered HTTP 403: permission denied\n    (stack logged 0 s ago)',
    });
  }
});

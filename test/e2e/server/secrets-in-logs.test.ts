import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { OptionSpec } from '../../../src/config/option-spec.js';
import { SERVE_OPTIONS } from '../../../src/config/schema.js';
import { grantableRequest } from '../../helpers/seeds.js';
import { spawnServer, type SpawnedServer } from '../../helpers/spawn-logged-server.js';

/**
 * Every option marked `secret: true` in the schema gets a fake secret; a whole server lifecycle
 * (start, grant, reject, 404, shutdown) must never print it. The request ID is a positive control:
 * it must appear, proving the grep reads the request logs.
 */
const secretOptions = (Object.values(SERVE_OPTIONS) as OptionSpec<unknown>[]).filter(
  // The ledger's options need a database to start; their tests check that the password and the
  // PIN stay out of the logs (test/integration/ledger/ledger*.test.ts).
  (spec) => spec.secret && spec.flag !== 'ledger-key' && spec.flag !== 'ledger-url',
);

describe('secrets never reach the logs', () => {
  let server: SpawnedServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it.each(['prod', 'dev'])('in a full lifecycle with --log-type %s', async (logType) => {
    const secret = `fake-secret-${randomBytes(12).toString('hex')}`;
    const requestId = `control-${randomBytes(6).toString('hex')}`;
    const secretFlags = secretOptions.flatMap((spec) => [`--${spec.flag}`, secret]);
    server = await spawnServer([...secretFlags, '--log-type', logType]);
    const post = (body: Uint8Array) =>
      fetch(`${server?.url}/api/v1/timestamp`, {
        method: 'POST',
        headers: { 'content-type': 'application/timestamp-query', 'x-request-id': requestId },
        body,
      });
    expect((await post(grantableRequest())).status).toBe(200);
    expect((await post(Buffer.from('garbage'))).status).toBe(200); // a DER rejection
    expect((await fetch(`${server.url}/nowhere`)).status).toBe(404);
    await server.waitForLine(/request rejected/);
    expect(await server.stop()).toBe(0);

    const output = server.lines.join('\n');
    expect(output).toContain(requestId);
    expect(output).toMatch(/received SIGTERM/);
    const leaks = server.lines.filter((line) => line.includes(secret));
    expect(leaks).toEqual([]);
  });
});

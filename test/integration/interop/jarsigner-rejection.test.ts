/**
 * The real jarsigner (the JDK's HttpTimestamper) asking for a policy the TSA does not accept.
 * HttpTimestamper throws on any HTTP status >= 400, so with Go's 400 the user only sees "Server
 * returned HTTP response code: 400"; with the default --der-rejection-status=rfc the rejection
 * arrives as a TimeStampResp and jarsigner reports the PKIStatus and failInfo.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import { startServer, type RunningServer } from '../../../src/runtime/serve.js';
import { tempDir } from '../../helpers/openssl.js';
import { KEYSTORE_PASS, makeUnsignedJar } from '../../helpers/jar.js';
import { silentLogger } from '../../helpers/tsa.js';

const run = promisify(execFile);

describe('jarsigner and a refused request', () => {
  const servers: Partial<Record<'rfc' | 'go', RunningServer>> = {};
  const dir = tempDir();
  beforeAll(async () => {
    for (const derRejectionStatus of ['rfc', 'go'] as const) {
      servers[derRejectionStatus] = await startServer(
        resolveServeConfig({
          port: 0,
          metricsPort: 0,
          disableNtpMonitoring: true,
          derRejectionStatus,
        }),
        silentLogger,
      );
    }
    const cwd = dir.dir;
    await makeUnsignedJar(cwd);
  });
  afterAll(async () => {
    for (const server of Object.values(servers)) await server.close();
    dir.cleanup();
  });

  /** jarsigner's output when it asks `server` for a token under an unaccepted policy. */
  async function signWithUnacceptedPolicy(server: RunningServer): Promise<string> {
    try {
      await run(
        'jarsigner',
        [
          '-keystore',
          'ks.p12',
          ...KEYSTORE_PASS,
          '-tsa',
          `${server.url}/api/v1/timestamp`,
          '-tsapolicyid',
          '1.2.3.4.5',
          '-signedjar',
          'signed.jar',
          'app.jar',
          'signer',
        ],
        { cwd: dir.dir },
      );
    } catch (error) {
      const failure = error as { stdout?: string; stderr?: string };
      return `${failure.stdout ?? ''}${failure.stderr ?? ''}`;
    }
    throw new Error('jarsigner signed with a policy the TSA refuses');
  }

  it('default (rfc): jarsigner reports the PKIStatus rejection and its failInfo', async () => {
    const output = await signWithUnacceptedPolicy(servers.rfc as RunningServer);
    expect(output).toMatch(/Error generating timestamp: the timestamp request was rejected/);
    expect(output).toMatch(/The requested TSA policy is not supported by the TSA/);
    expect(output).not.toMatch(/HTTP response code/);
  });

  it('--der-rejection-status=go: jarsigner only sees the HTTP error', async () => {
    const output = await signWithUnacceptedPolicy(servers.go as RunningServer);
    expect(output).toMatch(/Server returned HTTP response code: 400/);
    expect(output).not.toMatch(/request was rejected/);
  });
});

/**
 * A named profile's accuracy and the clock gate: every token must be able to stand behind the
 * accuracy it declares, so the gate holds the clock to the tightest accuracy of any profile, and a
 * profile's tokens declare its own accuracy even under --accuracy auto. Real SNTP over 127.0.0.1.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readConfigFile } from '../../../src/config/config-file.js';
import { resolveLayers } from '../../../src/config/resolve.js';
import { startServer, type RunningServer } from '../../../src/runtime/serve.js';
import { decodeResponse } from '../../helpers/decode.js';
import { tempDir } from '../../helpers/openssl.js';
import { encodeRequest } from '../../helpers/requests.js';
import { answer, SntpResponder } from '../../helpers/sntp-responder.js';
import { silentLogger } from '../../helpers/tsa.js';

const POLICY = '1.2.3.4.100';
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * A server whose one NTP server is `offsetMs` ahead, with profile `p` declaring `profileAccuracy`.
 * The clocks, in-process, measure each other over a round trip that a busy machine can stretch to
 * seconds, and half of it widens the bound measured: the offsets and accuracies of the cases below
 * let it take about a minute (29.5 s of bound) before the verdict could change, and the query as
 * long (request_timeout).
 */
async function serverWithClockAhead(
  offsetMs: number,
  accuracy: string,
  profileAccuracy: string,
): Promise<RunningServer> {
  const ntp = await SntpResponder.start(answer({ offsetMs }));
  cleanups.push(() => ntp.close());
  const dir = tempDir();
  cleanups.push(() => dir.cleanup());
  const ntpConfig = dir.write(
    'ntp.yaml',
    [
      'request_attempts: 1',
      'request_timeout: 60',
      'num_servers: 1',
      'server_threshold: 1',
      'max_time_delta: 300',
      'period: 3600',
      'servers:',
      `  - "${ntp.address.name}"`,
      '',
    ].join('\n'),
  );
  const config = dir.write(
    'timestamp-server.yaml',
    [
      'port: 0',
      'metrics-port: 0',
      `ntp-monitoring: ${ntpConfig}`,
      'require-time-sync: true',
      `accuracy: ${accuracy}`,
      'profiles:',
      '  - name: p',
      `    policy-oids: [${POLICY}]`,
      `    accuracy: ${profileAccuracy}`,
      '',
    ].join('\n'),
  );
  const server = await startServer(resolveLayers([readConfigFile(config)]).config, silentLogger);
  cleanups.push(() => server.close());
  // The first round's verdict (not a deadline: the test's timeout bounds the wait).
  while (server.clock!.status.rounds === 0) await new Promise((resolve) => setTimeout(resolve, 20));
  return server;
}

const askProfile = (server: RunningServer) =>
  fetch(`${server.url}/api/v1/timestamp/p`, {
    method: 'POST',
    headers: { 'content-type': 'application/timestamp-query' },
    body: encodeRequest({ policy: POLICY }),
  });

describe("a named profile's accuracy and the clock gate", () => {
  it('--accuracy 60s, a profile declaring 1s, the clock 30 s ahead: drifted, nothing is issued', async () => {
    const server = await serverWithClockAhead(30_000, '60s', '1s');
    expect(server.clock!.status.state).toBe('drifted');
    const response = await askProfile(server);
    expect(response.status).toBe(503);
  });

  it('--accuracy auto: the profile declares its own 60 s, not the bound measured', async () => {
    const server = await serverWithClockAhead(0, 'auto', '60s');
    expect(server.clock!.status.state).toBe('synced');
    const response = await askProfile(server);
    expect(response.status).toBe(200);
    const accuracy = decodeResponse(new Uint8Array(await response.arrayBuffer())).tstInfo!
      .accuracy!;
    expect([accuracy.seconds, accuracy.millis]).toEqual([60, undefined]);
  });
});

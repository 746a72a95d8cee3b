import { afterEach, expect, it } from 'vitest';
import { inspectCommand } from '../../../src/cli/timestamp-cli/inspect-command.js';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import { startServer } from '../../../src/runtime/serve.js';
import { openssl, tempDir } from '../../helpers/openssl.js';
import { waitUntil } from '../../helpers/poll.js';
import { answer, SntpResponder } from '../../helpers/sntp-responder.js';
import { opensslTimestampOverHttp, opensslTsVerify } from '../../helpers/timestamp-roundtrip.js';
import { silentLogger } from '../../helpers/tsa.js';

/**
 * --qualified (ETSI EN 319 422 section 9.1): every token states that it is an EU qualified
 * time-stamp, issued only while the clock gate holds the clock to UTC (--require-time-sync, here
 * against an SNTP responder of this process), and OpenSSL reads and verifies it.
 */
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

it('issues tokens with the qualified statement that openssl verifies and inspect names', async () => {
  const dir = tempDir();
  cleanups.push(() => dir.cleanup());
  const responder = await SntpResponder.start(answer());
  cleanups.push(() => responder.close());
  const ntp = dir.write(
    'ntp.yaml',
    `request_attempts: 1\nrequest_timeout: 1\nmax_time_delta: 1\nnum_servers: 1\nserver_threshold: 1\nperiod: 60\nservers: ["${responder.address.name}"]\n`,
  );
  const server = await startServer(
    resolveServeConfig({
      port: 0,
      metricsPort: 0,
      ntpMonitoring: ntp,
      requireTimeSync: true,
      qualified: true,
    }),
    silentLogger,
  );
  cleanups.push(() => server.close());
  await waitUntil(async () => (await fetch(`${server.url}/readyz`)).status === 200);

  const data = dir.write('data.txt', 'a qualified time-stamp');
  const { query, reply } = await opensslTimestampOverHttp(server.url, dir, data);

  // OpenSSL names the extension (and shows its value as text: 0.0.......^..).
  const text = await openssl(['ts', '-reply', '-in', reply, '-text']);
  expect(text).toMatch(/^Extensions:\nqcStatements:\n/m);
  const chain = await (await fetch(`${server.url}/api/v1/timestamp/certchain`)).text();
  const pems = chain.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n/g) ?? [];
  const root = dir.write('root.pem', pems.at(-1) ?? '');
  const untrusted = dir.write('untrusted.pem', pems.slice(0, -1).join(''));
  expect(await opensslTsVerify(reply, { queryfile: query }, { root, untrusted })).toContain(
    'Verification: OK',
  );

  let shown = '';
  await inspectCommand(() => ({ timestampServer: server.url, format: 'default', timeout: 0 }), {
    stdout: (line) => (shown += line),
    stderr: () => {},
  }).parseAsync(['--timestamp', reply], { from: 'user' });
  expect(shown).toContain(
    '  1.3.6.1.5.5.7.1.3 (qcStatements: esi4-qtstStatement-1, an EU qualified time-stamp): 300b30090607040081975e0101\n',
  );
});

import { createServer, type Server } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import type { ServeOptionName } from '../../../src/config/schema.js';
import { startServer } from '../../../src/runtime/serve.js';
import { selfSignedTls } from '../../fakes/tls.js';
import { tempDir } from '../../helpers/openssl.js';
import { fatalMessages, runCli } from '../../helpers/spawn-server.js';
import { silentLogger } from '../../helpers/tsa.js';

/** Holds a port on 127.0.0.1 so the server under test cannot bind it. */
async function occupy(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return { port: typeof address === 'object' && address ? address.port : 0, server };
}

const held: Server[] = [];
afterEach(() => held.splice(0).forEach((server) => server.close()));

const dir = tempDir();
beforeAll(() => {
  const { key, cert } = selfSignedTls();
  dir.write('tls.key', key);
  dir.write('tls.crt', cert);
});
afterAll(() => dir.cleanup());

describe('a port in use stops start-up naming the flag that chose it', () => {
  const listeners: [string, ServeOptionName, Partial<Record<ServeOptionName, unknown>>][] = [
    ['--port', 'port', {}],
    ['--metrics-port', 'metricsPort', {}],
    ['--tls-port', 'tlsPort', { tlsCertificate: dir.path('tls.crt'), tlsKey: dir.path('tls.key') }],
  ];
  it.each(listeners)('%s', async (flag, option, extra) => {
    const { port, server } = await occupy();
    held.push(server);
    const config = resolveServeConfig({
      host: '127.0.0.1',
      port: 0,
      metricsPort: 0,
      tlsPort: 0,
      disableNtpMonitoring: true,
      ...extra,
      [option]: port,
    });
    await expect(startServer(config, silentLogger)).rejects.toThrow(
      `${flag} ${port} is in use on 127.0.0.1: stop the process holding it or choose another ${flag}`,
    );
  });

  /** `serve` on 127.0.0.1 with a port held by another process, given by `flags`; exits 1. */
  async function serveWithPortHeld(flags: (port: number) => string[]) {
    const { port, server } = await occupy();
    held.push(server);
    const run = runCli([
      'serve',
      '--host=127.0.0.1',
      '--port=0',
      ...flags(port),
      '--disable-ntp-monitoring',
      '--log-type=prod',
    ]);
    expect(await run.exited).toBe(1);
    return { port, run };
  }

  it('in one line of the CLI, exit code 1', async () => {
    const { port, run } = await serveWithPortHeld((taken) => [`--metrics-port=${taken}`]);
    const fatal = fatalMessages(run.stdout());
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toContain(`cannot start: --metrics-port ${port} is in use on 127.0.0.1`);
    expect(run.stdout()).not.toContain('EADDRINUSE');
  });

  it('--tls-port in use: no line says the HTTP listener served before the start-up failed', async () => {
    const { port, run } = await serveWithPortHeld((taken) => [
      '--metrics-port=0',
      `--tls-port=${taken}`,
      `--tls-certificate=${dir.path('tls.crt')}`,
      `--tls-key=${dir.path('tls.key')}`,
    ]);
    expect(fatalMessages(run.stdout())[0]).toContain(`cannot start: --tls-port ${port} is in use`);
    expect(run.stdout()).toContain('serving metrics on');
    expect(run.stdout()).not.toContain('serving timestamps');
  });
});

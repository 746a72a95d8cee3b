import { EventEmitter } from 'node:events';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { serveUntilSignalled } from '../../../src/cli/serve-lifecycle.js';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import { startServer } from '../../../src/runtime/serve.js';
import { selfSignedTls } from '../../fakes/tls.js';
import { tempDir } from '../../helpers/openssl.js';
import { waitUntil } from '../../helpers/poll.js';

/**
 * A stop (SIGTERM while starting) abandons the start-up only while no listener accepts: then the
 * process may exit at once, as nothing is served. Once the HTTP listener listens (the HTTPS one
 * still to come), connections may be accepted and answered: the start-up completes, and the
 * process drains it (serve-lifecycle.ts), rather than exiting 143 and cutting them.
 * The stop comes from the logger, as the start-up logs the step it has reached.
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A logger that aborts `stop` as it writes a message matching `when`; keeps the messages. */
function stoppingLogger(when: RegExp, stop: AbortController) {
  const messages: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const { msg = '' } = JSON.parse(chunk.toString()) as { msg?: string };
      messages.push(msg);
      if (when.test(msg)) stop.abort();
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink), messages };
}

function config() {
  const dir = tempDir();
  cleanups.push(() => dir.cleanup());
  const { cert, key } = selfSignedTls();
  return resolveServeConfig({
    host: '127.0.0.1',
    port: 0,
    metricsPort: 0,
    tlsPort: 0,
    tlsCertificate: dir.write('tls.crt', cert),
    tlsKey: dir.write('tls.key', key),
    disableNtpMonitoring: true,
  });
}

const refused = (url: string) =>
  new Promise<boolean>((resolve) => {
    const { hostname, port } = new URL(url);
    const probe = connect(Number(port), hostname);
    probe.once('connect', () => {
      probe.destroy();
      resolve(false);
    });
    probe.once('error', () => resolve(true));
  });

describe('a stop while the server starts', () => {
  it('before any timestamp listener listens: the start-up is abandoned at once, and releases what it built', async () => {
    const stop = new AbortController();
    const { logger, messages } = stoppingLogger(/^serving metrics on /, stop);
    await expect(startServer(config(), logger, { stop: stop.signal })).rejects.toMatchObject({
      code: 'START_STOPPED',
    });
    const announced = messages.find((message) => message.startsWith('serving metrics on '));
    const metricsUrl = /^serving metrics on (\S+)$/.exec(announced ?? '')?.[1] ?? '';
    expect(metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    // It stops at the HTTP listener's listen: never a line saying it serves.
    await waitUntil(() => refused(metricsUrl));
    expect(messages.some((message) => message.startsWith('serving timestamps'))).toBe(false);
  });

  it('once the HTTP listener listens: the start-up completes (HTTPS too), then drains, and the process exits 0', async () => {
    const signals = new EventEmitter();
    const lines: string[] = [];
    let exited: (code: number) => void = () => undefined;
    const exit = new Promise<number>((resolve) => (exited = resolve));
    const stop = new AbortController();
    const { logger } = stoppingLogger(/^serving timestamps on /, stop);
    stop.signal.addEventListener('abort', () => signals.emit('SIGTERM'));
    let tlsUrl: string | undefined;
    await serveUntilSignalled(
      async (signal) => {
        const server = await startServer(config(), logger, { stop: signal });
        tlsUrl = server.tlsUrl;
        return server;
      },
      {
        logger: {
          info: (message) => lines.push(message),
          error: (_fields, message) => lines.push(message),
          fatal: (message) => lines.push(message),
          debug: () => undefined,
        },
        gracefulTimeoutMs: 3_600_000,
        signals,
        exit: (code) => exited(code),
        takeOver: () => undefined,
      },
    );
    expect(await exit).toBe(0);
    expect(tlsUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(lines).toContain('received SIGTERM while starting: stopping the start-up');
    expect(lines).toContain('started after SIGTERM: draining at once');
    expect(lines).toContain('shut down');
  });
});

import { describe, expect, it } from 'vitest';
import { loadServeConfig } from '../../../src/config/load.js';
import { createLogger } from '../../../src/server/logger.js';
import { logSink } from '../../helpers/log-sink.js';
import { listeningPorts } from '../../helpers/process.js';
import { runCli } from '../../helpers/spawn-server.js';

const severities = (stdout: string) =>
  stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => (JSON.parse(line) as { severity: string }).severity);

/**
 * Waits until the server answers /ping on one of the ports it listens on (--port 0: a warn-level
 * log does not say which), read from /proc: never another process's port.
 */
async function untilPing(run: ReturnType<typeof runCli>): Promise<void> {
  for (;;) {
    if (run.child.exitCode !== null) throw new Error(`server exited:\n${run.stderr()}`);
    for (const port of listeningPorts(run.child.pid as number)) {
      const ok = await fetch(`http://127.0.0.1:${port}/ping`).then(
        (response) => response.ok,
        () => false,
      );
      if (ok) return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('--log-level', () => {
  it('defaults to info and is read from flags, the environment and config files', () => {
    const load = (flags: object, env: NodeJS.ProcessEnv = {}) =>
      loadServeConfig({ flags, env, searchDirs: [] }).config.logLevel;
    expect(load({})).toBe('info');
    expect(load({}, { LOG_LEVEL: 'DEBUG' })).toBe('debug');
    expect(load({}, { 'LOG-LEVEL': 'warn' })).toBe('warn');
    expect(load({ logLevel: 'error' }, { LOG_LEVEL: 'debug' })).toBe('error');
    expect(() => load({ logLevel: 'verbose' })).toThrow(
      'invalid value for --log-level: "verbose" (valid: trace, debug, info, warn, error)',
    );
  });

  it('sets the level of the prod logger', () => {
    const { sink, records } = logSink();
    const logger = createLogger('prod', 'warn', sink);
    logger.info('hidden');
    logger.debug('hidden');
    logger.warn('shown');
    expect(records<{ message: string }>().map((record) => record.message)).toEqual(['shown']);
  });

  it('warn: a serving server writes its warnings and no info lines', async () => {
    const run = runCli([
      'serve',
      '--port=0',
      '--metrics-port=0',
      '--log-type=prod',
      '--log-level=warn',
      '--disable-ntp-monitoring',
    ]);
    await untilPing(run);
    run.child.kill('SIGTERM');
    await run.exited;
    const seen = severities(run.stdout());
    expect(seen).toContain('WARN');
    expect(seen).not.toContain('INFO');
  });
});

import type { KeyObject } from 'node:crypto';
import { logAuditCommand } from '../../src/cli/timestamp-cli/log-audit-command.js';
import type { Output } from '../../src/cli/timestamp-cli/output.js';
import { startLogServer } from './log-server.js';
import { TestLog } from './tlog-log.js';

/**
 * Runs `timestamp-cli log-audit` in process over a log of `entries` served on 127.0.0.1 (a
 * TestLog, signed with `logKey` when given): its stdout, or FAILED and the error's message.
 * `serve` changes what the server serves (by path) from what the log holds.
 */
export async function auditServedLog(
  entries: Uint8Array[],
  args: string[],
  options: {
    format?: 'default' | 'json';
    serve?: Record<string, Uint8Array>;
    logKey?: KeyObject;
  } = {},
): Promise<string> {
  const log = new TestLog('tsa.example.com/log', options.logKey);
  await log.append(...entries);
  await log.publish();
  const server = await startLogServer(log);
  for (const [path, body] of Object.entries(options.serve ?? {})) server.overrides.set(path, body);
  let stdout = '';
  const output: Output = { stdout: (text) => (stdout += text), stderr: () => undefined };
  try {
    await logAuditCommand(
      () => ({ timestampServer: server.url, format: options.format ?? 'default', timeout: 30_000 }),
      output,
    )
      .exitOverride()
      .parseAsync([server.url, '--log-key', log.vkey, ...args], { from: 'user' });
    return stdout;
  } catch (error) {
    return `FAILED: ${(error as Error).message}`;
  } finally {
    await server.close();
  }
}

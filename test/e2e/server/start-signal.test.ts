import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { awsKmsEnvironment } from '../../helpers/fake-aws-kms.js';
import { tempDir } from '../../helpers/openssl.js';
import { writeChainFor } from '../../helpers/remote-tsa.js';
import { REPO_ROOT, runCli, SERVE_ON_EPHEMERAL_PORTS } from '../../helpers/spawn-server.js';

/**
 * A SIGTERM while the server starts (a KMS, HSM or ledger still connecting, workers still
 * starting) is handled: as PID 1 in a container a signal without a handler is ignored, and the
 * pod would run until its SIGKILL. The start-up is held here by a KMS endpoint that accepts the
 * connection and never answers: once the signer has connected, the server is mid-start.
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A TCP endpoint that accepts connections and never answers; counts them. */
async function silentEndpoint() {
  const sockets: Socket[] = [];
  const server = createServer((socket) => sockets.push(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, connections: () => sockets.length, server };
}

async function startHeld(workers: number, flags: string[] = []) {
  const dir = tempDir();
  cleanups.push(() => dir.cleanup());
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { chain } = await writeChainFor(publicKey, dir);
  const kms = await silentEndpoint();
  const run = runCli(
    [
      ...SERVE_ON_EPHEMERAL_PORTS,
      '--workers',
      String(workers),
      '--timestamp-signer',
      'kms',
      '--kms-key-resource',
      'awskms:///alias/timestamp-authority',
      '--certificate-chain-path',
      chain,
      '--kms-timeout',
      '5m',
      ...flags,
    ],
    {
      HOME: `${REPO_ROOT}/test/fixtures-none`,
      ...awsKmsEnvironment(kms.url),
    },
  );
  cleanups.push(() => {
    if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
  });
  // Each process that starts a signer (the single process, or every worker) is held.
  while (kms.connections() < workers) await once(kms.server, 'connection');
  return run;
}

const messagesOf = (stdout: string) =>
  stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { message?: string; worker?: number });

describe('a signal while the server starts', () => {
  it('the single process logs it and exits 143 without waiting for the start-up', async () => {
    const run = await startHeld(1);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(143);
    const messages = messagesOf(run.stdout()).map((line) => line.message);
    expect(messages).toContain('received SIGTERM while starting: stopping the start-up');
    expect(messages).toContain('start-up stopped by SIGTERM: exiting with 143');
    expect(messages.some((message) => message?.startsWith('cannot start'))).toBe(false);
  });

  it('removes the audit log lock it took on its way out: the next start need not wait for it', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const auditLog = dir.path('audit.jsonl');
    // The audit log is opened (its lock taken) before the signer, which holds the start-up.
    const run = await startHeld(1, ['--audit-log', auditLog]);
    expect(existsSync(`${auditLog}.lock`)).toBe(true);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(143);
    expect(existsSync(`${auditLog}.lock`)).toBe(false);
    expect(existsSync(auditLog)).toBe(true);
  });

  it('a cluster primary ends its workers still starting, then exits 143', async () => {
    const run = await startHeld(2);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(143);
    const messages = messagesOf(run.stdout()).map((line) => line.message ?? '');
    expect(messages).toContain('received SIGTERM while starting: stopping the start-up');
    expect(
      messages.filter((message) =>
        /^worker \d+ \(pid \d+\) was not serving; exited with signal SIGTERM$/.test(message),
      ),
    ).toHaveLength(2);
    expect(messages).toContain('start-up stopped by SIGTERM: exiting with 143');
  });
});

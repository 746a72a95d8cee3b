import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { childEnvironment, reapChild } from '../../helpers/process.js';

const WORKER = fileURLToPath(new URL('../../fixtures/cluster/run-worker.ts', import.meta.url));

it('a worker still starting (no setup, no audit log open) survives SIGHUP', async () => {
  const child = fork(WORKER, [], {
    execArgv: ['--import', 'tsx'],
    env: childEnvironment(),
    stdio: 'ignore',
  });
  reapChild(child);
  const [hello] = (await once(child, 'message')) as [{ type: string }];
  expect(hello.type).toBe('tsa:hello');
  // The primary passes SIGHUP (log rotation) to every worker, serving or not.
  child.kill('SIGHUP');
  // Asked to stop while still starting, it exits 0: it was alive when the drain came.
  child.send({ type: 'tsa:drain' });
  const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
  expect({ code, signal }).toEqual({ code: 0, signal: null });
});

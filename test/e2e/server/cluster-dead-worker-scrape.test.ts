import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runToEnd } from '../../helpers/process.js';
import { REPO_ROOT } from '../../helpers/spawn-server.js';

it('a scrape that reaches a worker dead but not yet reaped is answered, and the primary lives', async () => {
  const run = await runToEnd(process.execPath, [
    '--import',
    'tsx',
    join(REPO_ROOT, 'test', 'fixtures', 'cluster', 'scrape-dead-worker.ts'),
  ]);
  expect(run.stderr).not.toMatch(/EPIPE|Unhandled 'error'/);
  expect(run.status).toBe(0);
  // The dead worker's counts went with it; the primary's own metrics are still served.
  expect(run.stdout).toMatch(/^# TYPE timestamp_authority_clock_state gauge$/m);
});

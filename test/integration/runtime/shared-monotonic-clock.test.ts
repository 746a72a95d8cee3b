import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { systemMonotonicMs } from '../../../src/clock/wall-clock-step.js';
import { childEnvironment } from '../../helpers/process.js';

/** The clock a cluster's processes compare their relayed clock readings on (relayed-clock.ts). */
describe('systemMonotonicMs', () => {
  it('reads a monotonic clock that every process shares (performance.now() does not)', () => {
    const before = systemMonotonicMs();
    const child = Number(
      execFileSync(
        process.execPath,
        ['-e', 'process.stdout.write(String(Number(process.hrtime.bigint()) / 1e6))'],
        { env: childEnvironment() },
      ),
    );
    const after = systemMonotonicMs();
    expect(child).toBeGreaterThanOrEqual(before);
    expect(child).toBeLessThanOrEqual(after);
  });
});

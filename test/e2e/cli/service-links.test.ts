import { describe, expect, it } from 'vitest';
import { spawnServer } from '../../helpers/spawn-server.js';

describe('timestamp-server in a pod with a Service named "metrics"', () => {
  it('starts, and logs one WARN naming METRICS_PORT (Kubernetes service link)', async () => {
    const server = await spawnServer([], { METRICS_PORT: 'tcp://10.0.0.5:2112' });
    try {
      const warnings = server.lines
        .map((line) => JSON.parse(line) as { severity?: string; message?: string })
        .filter((entry) => entry.severity === 'WARN' && entry.message?.includes('METRICS_PORT'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]?.message).toContain('enableServiceLinks: false');
      expect(warnings[0]?.message).not.toContain('10.0.0.5');
    } finally {
      await server.stop();
    }
  });
});

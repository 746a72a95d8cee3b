import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');

interface AuditReport {
  metadata?: { vulnerabilities?: Record<string, number> };
  message?: string;
  error?: unknown;
}

describe('supply chain', () => {
  it(
    'npm audit --omit=dev reports no high or critical advisory',
    { timeout: 120_000 },
    async () => {
      let stdout: string;
      try {
        ({ stdout } = await run('npm', ['audit', '--omit=dev', '--json'], {
          cwd: ROOT,
          maxBuffer: 32 << 20,
        }));
      } catch (error) {
        // npm exits non-zero both when it finds advisories and when it cannot ask the registry.
        stdout = (error as { stdout?: string }).stdout ?? '';
      }
      let report: AuditReport;
      try {
        report = JSON.parse(stdout) as AuditReport;
      } catch {
        throw new Error(`npm audit printed no JSON report:\n${stdout.slice(0, 2000)}`);
      }
      const counts = report.metadata?.vulnerabilities;
      if (!counts) {
        throw new Error(
          `npm audit could not get advisories from the registry, so the dependencies are unchecked: ${report.message ?? JSON.stringify(report.error)}`,
        );
      }
      expect({ high: counts.high ?? 0, critical: counts.critical ?? 0 }).toEqual({
        high: 0,
        critical: 0,
      });
    },
  );
});

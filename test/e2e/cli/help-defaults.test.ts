import { describe, expect, it } from 'vitest';
import { formatDefault } from '../../../src/config/print-config.js';
import { parseOptionValue } from '../../../src/config/resolve.js';
import type { OptionSpec } from '../../../src/config/option-spec.js';
import { SERVE_OPTIONS } from '../../../src/config/schema.js';
import { runCli } from '../../helpers/spawn-server.js';

/** `serve --help` as { flag: shown default }, whatever the wrapping of the help text. */
function shownDefaults(help: string): Map<string, string | undefined> {
  const entries = help
    .split('\n')
    .reduce<string[]>((all, line) => {
      if (/^ {2}-/.test(line)) all.push(line);
      else if (all.length > 0 && /^ {3,}\S/.test(line)) all[all.length - 1] += ` ${line.trim()}`;
      return all;
    }, [])
    .map((entry) => entry.replace(/\s+/g, ' ').trim());
  return new Map(
    entries.map((entry) => [
      /--([a-z0-9-]+)/.exec(entry)?.[1] ?? '',
      /\(default: ([^)]*)\)$/.exec(entry)?.[1],
    ]),
  );
}

describe('timestamp-server serve --help', () => {
  it('shows for every option a default that the parser accepts with the same meaning', async () => {
    const run = runCli(['serve', '--help']);
    expect(await run.exited).toBe(0);
    const shown = shownDefaults(run.stdout());
    for (const spec of Object.values(SERVE_OPTIONS) as OptionSpec<unknown>[]) {
      expect(shown.has(spec.flag), `--${spec.flag} is in the help`).toBe(true);
      const text = shown.get(spec.flag);
      const empty =
        spec.default === undefined ||
        spec.default === '' ||
        (Array.isArray(spec.default) && spec.default.length === 0);
      if (empty) {
        expect(text, `--${spec.flag} shows no default`).toBeUndefined();
        continue;
      }
      expect(text, `--${spec.flag} shows its default`).toBeDefined();
      expect(parseOptionValue(spec, text), `--${spec.flag} ${text}`).toEqual(spec.default);
    }
  });

  it('shows durations as durations', () => {
    expect(formatDefault(SERVE_OPTIONS.readTimeout)).toBe('30s');
    expect(formatDefault(SERVE_OPTIONS.cleanupTimeout)).toBe('620s');
    expect(formatDefault(SERVE_OPTIONS.acceptedPolicyOids)).toBe('1.3.6.1.4.1.57264.2');
  });
});

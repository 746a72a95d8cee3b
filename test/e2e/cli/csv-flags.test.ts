import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configWorkspace } from '../../helpers/config-layers.js';
import { runCli } from '../../helpers/spawn-server.js';

/** pflag's readAsCSV: an empty value is an empty list, not one empty item. */
describe("timestamp-server's list flags given ''", () => {
  const printConfig = async (args: string[]) => {
    const dir = configWorkspace();
    const run = runCli(
      ['serve', '--print-config', ...args],
      { HOME: dir.path('home') },
      dir.path('cwd'),
    );
    const status = await run.exited;
    expect(run.stderr()).toBe('');
    expect(status).toBe(0);
    return parse(run.stdout()) as Record<string, unknown>;
  };

  it('are empty lists: --accepted-policy-oids, --accepted-extension-oids, --trusted-proxies, --scheme', async () => {
    const printed = await printConfig([
      '--accepted-policy-oids',
      '',
      '--accepted-extension-oids=',
      '--trusted-proxies',
      '',
      '--scheme',
      '',
    ]);
    expect(printed).toMatchObject({
      'accepted-policy-oids': [],
      'accepted-extension-oids': [],
      'trusted-proxies': [],
      scheme: [],
    });
  });

  it('replace the default once, and a later value is added, as pflag does', async () => {
    const printed = await printConfig([
      '--accepted-policy-oids',
      '',
      '--accepted-policy-oids',
      '1.2.3',
    ]);
    expect(printed['accepted-policy-oids']).toEqual(['1.2.3']);
  });
});

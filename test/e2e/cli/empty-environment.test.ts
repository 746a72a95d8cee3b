import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runCli } from '../../helpers/cli.js';
import { configWorkspace } from '../../helpers/config-layers.js';
import { runCli as runServer } from '../../helpers/spawn-server.js';

/** Empty variables are unset in both programs, as Go's viper (AllowEmptyEnv false) reads them. */
describe('an empty environment variable is unset', () => {
  it('timestamp-server: HOST= and PORT= keep the loopback default and port 3000', async () => {
    const dir = configWorkspace();
    const printed = runServer(
      ['serve', '--print-config'],
      { HOME: dir.path('home'), HOST: '', PORT: '' },
      dir.path('cwd'),
    );
    expect(await printed.exited).toBe(0);
    expect(parse(printed.stdout())).toMatchObject({ host: '127.0.0.1', port: 3000 });
  });

  it('timestamp-cli: empty TIMESTAMP_* variables take no value, valid or not', async () => {
    const empty = { TIMESTAMP_TIMEOUT: '', TIMESTAMP_FORMAT: '', TIMESTAMP_TIMESTAMP_SERVER: '' };
    expect((await runCli(['version'], { env: empty })).code).toBe(0);
    // A required option whose variable is empty is missing, not given an empty path.
    const missing = await runCli(['timestamp'], { env: { ...empty, TIMESTAMP_ARTIFACT: '' } });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("required option '--artifact <file>' not specified");
  });
});

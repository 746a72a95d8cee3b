import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { openssl, tempDir } from '../../helpers/openssl.js';
import { issueToken, makePki } from '../../helpers/pki.js';

/**
 * The layers a timestamp-cli option is read from (docs/cli.md): flag > environment > config file
 * > default, whichever spelling of an option each layer used.
 */

const dir = tempDir();
afterAll(() => dir.cleanup());

/** A TSA that refuses every request with its own name, so the error says which one was asked. */
async function namedServer(name: string): Promise<{ url: string; server: Server }> {
  const server = createServer((_request, response) =>
    response.writeHead(500, { 'Content-Type': 'application/json' }).end(`{"message":"${name}"}`),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('timestamp-cli --timestamp_server and its alias --timestamp-server', () => {
  const servers: Record<'flag' | 'env' | 'config', { url: string; server: Server }> = {} as never;
  beforeAll(async () => {
    for (const name of ['flag', 'env', 'config'] as const) servers[name] = await namedServer(name);
    dir.write('artifact', 'artifact\n');
  });
  afterAll(async () => {
    for (const { server } of Object.values(servers))
      await new Promise((resolve) => server.close(resolve));
  });

  /** Which of the three servers `timestamp` asked. */
  async function askedServer(flag: string | undefined, env: boolean, key: string | undefined) {
    const args = ['timestamp', '--artifact', 'artifact', '--out', 'unused.tsr'];
    if (key !== undefined) {
      const config = dir.write(`${key}.yaml`, `${key}: ${servers.config.url}\n`);
      args.unshift('--config', config);
    }
    if (flag !== undefined) args.unshift(flag, servers.flag.url);
    const result = await runCli(args, {
      cwd: dir.dir,
      env: env ? { TIMESTAMP_TIMESTAMP_SERVER: servers.env.url } : {},
    });
    expect(result.code, result.stderr).toBe(1);
    return /HTTP 500: (\w+)$/m.exec(result.stderr)?.[1] ?? result.stderr;
  }

  const flags = [undefined, '--timestamp_server', '--timestamp-server'];
  const keys = [undefined, 'timestamp_server', 'timestamp-server'];
  const combinations = flags.flatMap((flag) =>
    [false, true].flatMap((env) =>
      keys
        .filter((key) => flag !== undefined || env || key !== undefined)
        .map((key) => [flag ?? '(none)', env ? 'set' : 'unset', key ?? '(none)'] as const),
    ),
  );

  it.each(combinations)(
    'flag %s, TIMESTAMP_TIMESTAMP_SERVER %s, config key %s',
    async (flag, env, key) => {
      const asked = await askedServer(
        flag === '(none)' ? undefined : flag,
        env === 'set',
        key === '(none)' ? undefined : key,
      );
      expect(asked).toBe(flag !== '(none)' ? 'flag' : env === 'set' ? 'env' : 'config');
    },
  );

  it('takes the last of the two spellings given on the command line, as a repeated flag', async () => {
    const result = await runCli(
      [
        '--timestamp-server',
        servers.env.url,
        '--timestamp_server',
        servers.flag.url,
        'timestamp',
        '--artifact',
        'artifact',
      ],
      { cwd: dir.dir },
    );
    expect(result.stderr).toMatch(/HTTP 500: flag$/m);
  });

  it('refuses a config file that sets both spellings', async () => {
    const config = dir.write(
      'both.yaml',
      `timestamp_server: ${servers.config.url}\ntimestamp-server: ${servers.env.url}\n`,
    );
    const result = await runCli(
      ['--config', config, 'timestamp', '--artifact', 'artifact', '--out', 'unused.tsr'],
      { cwd: dir.dir },
    );
    expect(result).toEqual({
      code: 1,
      stdout: '',
      stderr: `config file ${config}: timestamp_server and timestamp-server are one option: set it once\n`,
    });
  });
});

describe('timestamp-cli config file values', () => {
  const AT = new Date('2025-01-02T03:04:05Z');
  beforeAll(async () => {
    const pki = await makePki({}, AT);
    dir.write('good.tsr', await issueToken(pki, { artifact: Buffer.from('a'), genTime: AT }));
    dir.write('garbage.tsr', 'not a response');
  });
  const inspect = (config: string, args: string[] = [], env: Record<string, string> = {}) =>
    runCli(['--config', dir.write('values.yaml', config), 'inspect', ...args], {
      cwd: dir.dir,
      env,
    });

  it.each([
    [
      'timeout: bogus\n',
      'invalid value for timeout: invalid duration "bogus": expected a number at "bogus"',
    ],
    ['format: yaml\n', 'invalid value for format: Allowed choices are default, json.'],
    ['timeout: [1s, 2s]\n', 'timeout is not a string, number or boolean'],
    ['timeout:\n', 'timeout has no value'],
  ])('refuses %j, naming the file, the key and why', async (config, why) => {
    const result = await inspect(config, ['--timestamp', 'good.tsr']);
    expect(result).toEqual({
      code: 1,
      stdout: '',
      stderr: `config file ${dir.path('values.yaml')}: ${why}\n`,
    });
  });

  it('never shows the value of a key that may hold a secret', async () => {
    const result = await runCli(
      [
        '--config',
        dir.write('secret.yaml', 'log-key: pin-value=1234\n'),
        'log-audit',
        'http://127.0.0.1:9',
      ],
      { cwd: dir.dir },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^config file .*secret\.yaml: invalid value for log-key: "\(value not shown\)" is not a log verifier key/,
    );
    expect(result.stderr).not.toContain('1234');
  });

  it('supplies a required option, below a flag and the environment', async () => {
    const fromConfig = await inspect('timestamp: good.tsr\n');
    expect(fromConfig.stderr).toBe('');
    expect(fromConfig.stdout).toContain('Time stamp:        2025-01-02T03:04:05Z');
    // The flag and the environment variable win; the config's garbage.tsr is not read.
    const fromFlag = await inspect('timestamp: garbage.tsr\n', ['--timestamp', 'good.tsr']);
    expect(fromFlag.stdout).toContain('Time stamp:        2025-01-02T03:04:05Z');
    const fromEnv = await inspect('timestamp: garbage.tsr\n', [], {
      TIMESTAMP_TIMESTAMP: 'good.tsr',
    });
    expect(fromEnv.stdout).toContain('Time stamp:        2025-01-02T03:04:05Z');
    // The config's value is used, and checked, when nothing else gives one.
    const garbage = await inspect('timestamp: garbage.tsr\n');
    expect(garbage.stderr).toMatch(/^error parsing response into Timestamp/);
    const missing = await inspect('timestamp: missing.tsr\n');
    expect(missing.stderr).toBe(
      `config file ${dir.path('values.yaml')}: invalid value for timestamp: file missing.tsr does not exist\n`,
    );
  });

  it('still says a required option is missing when no layer gives it', async () => {
    const result = await inspect('format: json\n');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: required option '--timestamp <file>' not specified\n/);
  });

  it('applies to the options of a subcommand of a subcommand (certificates csr)', async () => {
    const result = await runCli(
      [
        '--config',
        dir.write('csr.yaml', 'common-name: Config TSA\nsignature-hash: md5\n'),
        'certificates',
        'csr',
        '--leaf-key',
        'missing.key',
      ],
      { cwd: dir.dir },
    );
    expect(result.stderr).toMatch(/^config file .*csr\.yaml: invalid value for signature-hash: /);
  });
});

describe('timestamp-cli environment variables', () => {
  it('bind the flags of certificates create and csr too (TIMESTAMP_LEAF_KEY …)', async () => {
    // Was: "required option '--leaf-key <ref>' not specified", as if no variable were set.
    const csr = await runCli(['certificates', 'csr'], {
      cwd: dir.dir,
      env: {
        TIMESTAMP_LEAF_KEY: dir.path('env-leaf.key'),
        TIMESTAMP_GENERATE_KEYS: 'ecdsa-p256',
        TIMESTAMP_COMMON_NAME: 'Env TSA',
        TIMESTAMP_OUTPUT: dir.path('env.csr'),
      },
    });
    expect(csr.stderr).toBe('');
    expect(csr.code).toBe(0);
    expect(await openssl(['req', '-in', dir.path('env.csr'), '-noout', '-subject'])).toMatch(
      /CN ?= ?Env TSA\b/,
    );
    const create = await runCli(['certificates', 'create'], {
      cwd: dir.dir,
      env: {
        TIMESTAMP_ROOT_KEY: dir.path('env-root.key'),
        TIMESTAMP_LEAF_KEY: dir.path('env-leaf.key'),
        TIMESTAMP_GENERATE_KEYS: 'ecdsa-p256',
        TIMESTAMP_LEAF_COMMON_NAME: 'Env Leaf',
        TIMESTAMP_NOT_BEFORE: '2025-01-02T03:04:05Z',
        TIMESTAMP_OUTPUT: dir.path('env-chain.pem'),
      },
    });
    expect(create.stderr).toBe('');
    expect(create.code).toBe(0);
    const leaf = await openssl([
      'x509',
      '-in',
      dir.path('env-chain.pem'),
      '-noout',
      '-subject',
      '-startdate',
    ]);
    expect(leaf).toMatch(/CN ?= ?Env Leaf\b/);
    expect(leaf).toContain('notBefore=Jan  2 03:04:05 2025 GMT');
  });
});

describe('timestamp-cli config file numbers', () => {
  it('keeps an unquoted value YAML reads as a number as written (common-name: 0123 is not 123)', async () => {
    const key = dir.path('csr-leaf.key');
    await openssl([
      'genpkey',
      '-algorithm',
      'EC',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-out',
      key,
    ]);
    const output = dir.path('numbers.csr');
    const result = await runCli(
      [
        '--config',
        dir.write('numbers.yaml', 'common-name: 0123\n'),
        'certificates',
        'csr',
        '--leaf-key',
        key,
        '--output',
        output,
      ],
      { cwd: dir.dir },
    );
    expect(result.stderr).toBe('');
    expect(await openssl(['req', '-in', output, '-noout', '-subject'])).toMatch(/CN ?= ?0123\b/);
  });
});

describe('timestamp-cli config file that is not YAML', () => {
  it("ends a command's --help, not the top-level help, which runs no command (docs/cli.md)", async () => {
    const config = dir.write('unparsable.yaml', 'format: "json\n');
    const top = await runCli(['--config', config, '--help'], { cwd: dir.dir });
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/^Usage: timestamp-cli /);
    const command = await runCli(['--config', config, 'inspect', '--help'], { cwd: dir.dir });
    expect(command).toEqual({
      code: 1,
      stdout: '',
      stderr: `error reading config file ${config}: cannot parse: Missing closing "quote at line 2, column 1\n`,
    });
  });

  it('says where, never quoting the line (it may hold a secret)', async () => {
    const config = dir.write(
      'broken.yaml',
      'format: json\nleaf-key: "pkcs11:token=t;object=k?pin-value=1234\n',
    );
    const result = await runCli(['--config', config, 'inspect', '--timestamp', 'x'], {
      cwd: dir.dir,
    });
    expect(result).toEqual({
      code: 1,
      stdout: '',
      stderr: `error reading config file ${config}: cannot parse: Missing closing "quote at line 3, column 1\n`,
    });
  });
});

import { afterAll, describe, expect, it } from 'vitest';
import { runCli as runTimestampCli } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/openssl.js';
import { MISSING_FILE_SIGNER, runCli } from '../../helpers/spawn-server.js';

const dir = tempDir();
afterAll(() => dir.cleanup());

/** `timestamp-server <args>` with no config file to find; its exit status and output. */
async function server(args: string[], env: NodeJS.ProcessEnv = {}) {
  const run = runCli(args, { HOME: dir.dir, ...env }, dir.dir);
  const status = await run.exited;
  return { status, stdout: run.stdout(), stderr: run.stderr() };
}

const POINTER = '(see timestamp-server serve --help)\n';

describe('timestamp-server: a refused command line or configuration', () => {
  it('an unknown flag: the error, the hint, a pointer to serve --help; exit 2', async () => {
    expect(await server(['serve', '--prot', '3000'])).toEqual({
      status: 2,
      stdout: '',
      stderr: `error: unknown option '--prot'\n(Did you mean --port?)\n${POINTER}`,
    });
  });

  it('a boolean flag and its value apart: the error says to join them with =; exit 2', async () => {
    const EXCESS = "error: too many arguments for 'serve'. Expected 0 arguments but got 1.\n";
    for (const [args, hint] of [
      [['--use-http-201', 'false'], '--use-http-201=false'],
      [['--disable_ntp_monitoring', 'T'], '--disable_ntp_monitoring=T'],
    ] as const) {
      expect(await server(['serve', ...args])).toEqual({
        status: 2,
        stdout: '',
        stderr: `${EXCESS}(a boolean flag takes its value after '=': ${hint})\n${POINTER}`,
      });
    }
    // No hint where the word is no boolean, or follows a flag that took a value.
    for (const args of [['--use-http-201', 'no'], ['--use-http-201=true', 'false'], ['stray']]) {
      expect(await server(['serve', ...args])).toEqual({
        status: 2,
        stdout: '',
        stderr: `${EXCESS}${POINTER}`,
      });
    }
  });

  it.each<[string[], NodeJS.ProcessEnv, string]>([
    [['--port', '70000'], {}, 'invalid value for --port: "70000" (at most 65535)'],
    [['--metrics-port', '70000'], {}, 'invalid value for --metrics-port: "70000" (at most 65535)'],
    [['--tls-port', '99999'], {}, 'invalid value for --tls-port: "99999" (at most 65535)'],
    [[], { PORT: '99999' }, 'environment: invalid value for PORT: "99999" (at most 65535)'],
    [
      ['--port', 'abc'],
      {},
      'invalid value for --port: "abc" (expected a whole number in decimal digits, without a sign)',
    ],
    [
      ['--max-request-body-size', '99999999999999999999'],
      {},
      'invalid value for --max-request-body-size: "99999999999999999999" (too large: at most 9007199254740991)',
    ],
    // Go's pflag reads 010 as octal: the Go server listens on 8, where Number would say 10.
    [
      ['--port', '010'],
      {},
      'invalid value for --port: "010" (a leading zero: Go reads 010 as octal, 8; write the number without it)',
    ],
    [
      [],
      { MAX_REQUEST_BODY_SIZE: '0100' },
      'environment: invalid value for MAX_REQUEST_BODY_SIZE: "0100" (a leading zero: Go reads 010 as octal, 8; write the number without it)',
    ],
    [['--timestamp-signer', 'file'], {}, '--timestamp-signer file needs --file-signer-key-path'],
    [
      ['--timestamp-signer', 'file', '--file-signer-key-path', '/k.pem'],
      {},
      '--timestamp-signer file needs --certificate-chain-path',
    ],
    [
      ['--port', '4030', '--metrics-port', '4030'],
      {},
      '--port and --metrics-port are both 4030 on 127.0.0.1: two listeners cannot share a port; ' +
        'choose another --metrics-port (0: any free port)',
    ],
    [['--config', '/nonexistent/tsa.yaml'], {}, 'config file /nonexistent/tsa.yaml: not found'],
    // A malformed key URI of a known scheme is an invalid value too, as an unknown scheme is.
    ...(
      [
        ['awskms://', 'awskms://[ENDPOINT]/[ID/ALIAS/ARN] (endpoint optional)'],
        ['hashivault://a/b', 'hashivault://<key> or openbao://<key>'],
        ['azurekms://h/k/ABC', 'azurekms://[VAULT_NAME][VAULT_URL]/[KEY_NAME]'],
        [
          'gcpkms://projects/p',
          'gcpkms://projects/[PROJECT]/locations/[LOCATION]/keyRings/[KEYRING]/cryptoKeys/[KEY][/cryptoKeyVersions/[VERSION]]',
        ],
      ] as const
    ).map(([uri, format]): [string[], NodeJS.ProcessEnv, string] => [
      [
        '--timestamp-signer',
        'kms',
        '--kms-key-resource',
        uri,
        '--certificate-chain-path',
        '/c.pem',
      ],
      {},
      `invalid --kms-key-resource "${uri}": kms specification should be in the format ${format}`,
    ]),
    // The endpoint of an awskms:// URI is checked as a service URL is, never quoted.
    [
      [
        '--timestamp-signer',
        'kms',
        '--kms-key-resource',
        'awskms://127.0.0.1:4566?token=PLANTED/alias/k',
        '--certificate-chain-path',
        '/c.pem',
      ],
      {},
      'the endpoint of --kms-key-resource must not have a query or a fragment',
    ],
    [
      [
        '--timestamp-signer',
        'tink',
        '--tink-keyset-path',
        '/k.json',
        '--tink-key-resource',
        'hcvault://vault/k',
        '--certificate-chain-path',
        '/c.pem',
      ],
      {},
      'invalid --tink-key-resource "hcvault://vault/k": expected hcvault://host[:port]/{mount}/keys/{name}',
    ],
  ])(
    'serve %j %j: one error line and the pointer, exit 2, nothing started',
    async (args, env, message) => {
      expect(await server(['serve', ...args], env)).toEqual({
        status: 2,
        stdout: '',
        stderr: `error: ${message}\n${POINTER}`,
      });
    },
  );

  it("a profile's signer option that its signer does not use: exit 2, naming both", async () => {
    const config = dir.write(
      'profile-without-signer.yaml',
      [
        'profiles:',
        '  - name: prod',
        '    policy-oids: [1.2.3.4.100]',
        '    file-signer-key-path: /keys/prod.pem',
        '    certificate-chain-path: /keys/prod-chain.pem',
        '',
      ].join('\n'),
    );
    // Refused as the file is read, before anything starts (--print-config too): without the
    // refusal this prints the file and exits 0, where `serve` alone would start and never exit.
    expect(await server(['serve', '--config', config, '--print-config'])).toEqual({
      status: 2,
      stdout: '',
      stderr:
        `error: config file ${config}: profile "prod": file-signer-key-path, certificate-chain-path ` +
        'are not used by its memory signer (the default: the profile sets no timestamp-signer); ' +
        `set the profile's timestamp-signer, or remove them\n${POINTER}`,
    });
  });

  it('an unknown command points at the top-level help', async () => {
    expect(await server(['sevre'])).toEqual({
      status: 2,
      stdout: '',
      stderr:
        "error: unknown command 'sevre'\n(Did you mean serve?)\n(see timestamp-server --help)\n",
    });
  });

  it.each(['file', 'kms', 'tink', 'pkcs11'])(
    '--print-config still prints a %s signer to complete, exit 0; serve refuses it, exit 2',
    async (kind) => {
      const printed = await server(['serve', '--timestamp-signer', kind, '--print-config']);
      expect(printed.status).toBe(0);
      expect(printed.stdout).toContain(`timestamp-signer: ${kind}`);
      const served = await server(['serve', '--timestamp-signer', kind]);
      expect(served.status).toBe(2);
      expect(served.stderr).toMatch(new RegExp(`^error: --timestamp-signer ${kind} needs --`));
    },
  );

  it('a start-up failure (a key file that does not exist) is still exit 1', async () => {
    const failed = await server([
      'serve',
      '--port',
      '0',
      '--log-type',
      'prod',
      ...MISSING_FILE_SIGNER,
    ]);
    expect(failed.status).toBe(1);
    expect(failed.stdout).toContain('cannot start: ');
  });
});

describe('timestamp-cli: usage errors and help texts', () => {
  it("a usage error points at the subcommand's help, exit 1 (as Go's CLI)", async () => {
    const run = await runTimestampCli(['timestamp'], { cwd: dir.dir });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      "error: required option '--artifact <file>' not specified\n" +
        '(see timestamp-cli timestamp --help)\n',
    );
  });

  it('--timestamp_server is described as the URL it must be', async () => {
    const help = (await runTimestampCli(['--help'], { cwd: dir.dir })).stdout.replace(/\s+/g, ' ');
    expect(help).toContain(
      '--timestamp_server <url> URL of the timestamp server, http:// or https://',
    );
    const refused = await runTimestampCli(
      ['--timestamp_server', 'localhost:3000', 'timestamp', '--artifact', 'x'],
      { cwd: dir.dir },
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('"localhost:3000" must start with http or https');
  });

  it('refuses a --timeout longer than a Node timer holds, naming the flag and the limit', async () => {
    // Past 2^31 - 1 ms AbortSignal.timeout fires at once, or throws 'The value of "delay" is out of
    // range': every request would fail. The artifact does not exist: the flag is refused first.
    for (const timeout of ['99999999h', '596h31m23.648s']) {
      const refused = await runTimestampCli(
        ['--timeout', timeout, 'timestamp', '--artifact', 'missing'],
        { cwd: dir.dir },
      );
      expect(refused.code).toBe(1);
      expect(refused.stderr).toBe(
        `error: option '--timeout <duration>' argument '${timeout}' is invalid. "${timeout}" is ` +
          'longer than 596h31m23.647s (2147483647 ms), the longest timeout (0 for none)\n' +
          '(see timestamp-cli --help)\n',
      );
    }
  });

  it('certificates create --help lists every KMS scheme, openbao:// included', async () => {
    const help = (await runTimestampCli(['certificates', 'create', '--help'], { cwd: dir.dir }))
      .stdout;
    for (const scheme of ['awskms://', 'gcpkms://', 'azurekms://', 'hashivault://', 'openbao://'])
      expect(help).toContain(scheme);
  });
});

import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatConfig } from '../../../src/config/print-config.js';
import { SERVE_OPTIONS, type ServeConfig } from '../../../src/config/schema.js';
import { openssl, tempDir } from '../../helpers/openssl.js';
import {
  fatalMessages,
  REPO_ROOT,
  runCli,
  SERVE_ON_EPHEMERAL_PORTS,
} from '../../helpers/spawn-server.js';

/**
 * An option that names a file holding a secret (secretFile in the schema) is most often got wrong
 * by setting the secret itself: a Kubernetes secretKeyRef of tls.key mapped to TLS_PRIVATE_KEY, a
 * password in FILE_SIGNER_PASSWD_FILE. The errors quoted the value as the path they could not
 * open, printing the TSA's signing key or a password in the log; they name the flag now.
 */
const work = tempDir();
afterAll(() => work.cleanup());

const pem = (type: 'ec' | 'ed25519') =>
  generateKeyPairSync(type as 'ec', { namedCurve: 'P-256' })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();
const KEY = pem('ec');
const keyPath = work.write('key.pem', KEY);
const chainPath = work.path('chain.pem');
beforeAll(async () => {
  await openssl([
    'req',
    '-x509',
    '-new',
    '-key',
    keyPath,
    '-subj',
    '/CN=tsa',
    '-days',
    '3',
    '-out',
    chainPath,
  ]);
});
const ledgerKeyPath = work.write('log.pem', pem('ed25519'));
const PASSWORD = 'hunter2-PLANTED';

async function start(env: NodeJS.ProcessEnv, args: string[] = []) {
  const run = runCli([...SERVE_ON_EPHEMERAL_PORTS, '--disable-ntp-monitoring', ...args], {
    HOME: `${REPO_ROOT}test/fixtures-none`,
    ...env,
  });
  const code = await run.exited;
  return { code, fatal: fatalMessages(run.stdout()), output: run.stdout() + run.stderr() };
}

const fileSigner = { TIMESTAMP_SIGNER: 'file', CERTIFICATE_CHAIN_PATH: chainPath };
const tinkSigner = {
  TIMESTAMP_SIGNER: 'tink',
  CERTIFICATE_CHAIN_PATH: chainPath,
  TINK_KEY_RESOURCE: 'hcvault://127.0.0.1:1/transit/keys/tsa',
};
// Read before the database is reached (port 1).
const ledger = {
  LEDGER_URL: 'postgres://tsa@127.0.0.1:1/tsa',
  LEDGER_ORIGIN: 'tsa.test/log',
  LEDGER_KEY: ledgerKeyPath,
};

describe('a secret set where the file holding it belongs is never printed', () => {
  it.each([
    [
      'TLS_PRIVATE_KEY',
      { TLS_CERTIFICATE: chainPath, TLS_PRIVATE_KEY: KEY },
      'cannot start: cannot read TLS key --tls-key (the file it names): ENOENT',
    ],
    [
      'FILE_SIGNER_KEY_PATH',
      { ...fileSigner, FILE_SIGNER_KEY_PATH: KEY },
      'cannot start: file: reading key path --file-signer-key-path (the file it names): ENOENT',
    ],
    [
      'TINK_KEYSET_PATH',
      { ...tinkSigner, TINK_KEYSET_PATH: KEY },
      'cannot start: tink: reading keyset --tink-keyset-path (the file it names): ENOENT',
    ],
    [
      'FILE_SIGNER_PASSWD_FILE',
      { ...fileSigner, FILE_SIGNER_KEY_PATH: keyPath, FILE_SIGNER_PASSWD_FILE: PASSWORD },
      'cannot start: reading --file-signer-passwd-file (the file it names): ENOENT',
    ],
    [
      'TINK_HCVAULT_TOKEN_FILE',
      { ...tinkSigner, TINK_KEYSET_PATH: keyPath, TINK_HCVAULT_TOKEN_FILE: PASSWORD },
      'cannot start: reading --tink-hcvault-token-file (the file it names): ENOENT',
    ],
    [
      'LEDGER_PASSWORD_FILE',
      { ...ledger, LEDGER_PASSWORD_FILE: PASSWORD },
      'cannot start: reading --ledger-password-file (the file it names): ENOENT',
    ],
  ])('%s: the flag is named, not the value', async (_variable, env, message) => {
    const failed = await start(env);
    expect(failed.code).toBe(1);
    expect(failed.fatal).toEqual([message]);
    expect(failed.output).not.toContain('PRIVATE KEY');
    expect(failed.output).not.toContain(PASSWORD);
  });

  it.each([
    [
      'TLS_CERTIFICATE',
      { TLS_CERTIFICATE: KEY, TLS_PRIVATE_KEY: keyPath },
      'cannot start: cannot read TLS certificate (its value is not shown: it holds PEM content or line breaks, not a file path): ENOENT',
    ],
    [
      'TLS_CA',
      { TLS_CERTIFICATE: chainPath, TLS_PRIVATE_KEY: keyPath, TLS_CA: KEY },
      'cannot start: cannot read TLS CA (its value is not shown: it holds PEM content or line breaks, not a file path): ENOENT',
    ],
    [
      'CERTIFICATE_CHAIN_PATH',
      { ...fileSigner, FILE_SIGNER_KEY_PATH: keyPath, CERTIFICATE_CHAIN_PATH: KEY },
      'cannot start: reading certificate chain (its value is not shown: it holds PEM content or line breaks, not a file path): ENOENT',
    ],
  ])(
    '%s holding a private key, where a public file belongs: not printed either',
    async (_variable, env, message) => {
      const failed = await start(env);
      expect(failed.code).toBe(1);
      expect(failed.fatal).toEqual([message]);
      const printed = await start(env, ['--print-config']);
      expect(printed.code).toBe(0);
      for (const run of [failed, printed]) expect(run.output).not.toContain('PRIVATE KEY');
    },
  );

  it('a real file that is not a key is still named, as before', async () => {
    const failed = await start({ ...fileSigner, FILE_SIGNER_KEY_PATH: chainPath });
    expect(failed.code).toBe(1);
    expect(failed.fatal).toEqual([
      `cannot start: file: reading key path ${chainPath}: unknown private key PEM file type: CERTIFICATE`,
    ]);
  });

  it('nor in the warning that the environment overrides the config file, nor by --print-config', async () => {
    const configFile = work.write('config.yaml', `tls-key: ${keyPath}\n`);
    const env = { TLS_PRIVATE_KEY: KEY, TLS_CERTIFICATE: chainPath };
    const failed = await start(env, ['--config', configFile]);
    expect(failed.code).toBe(1);
    expect(failed.output).toContain(
      `environment variable TLS_PRIVATE_KEY overrides tls-key of config file ${configFile} (values not shown: secret)`,
    );
    const printed = await start(env, ['--config', configFile, '--print-config']);
    expect(printed.code).toBe(0);
    expect(printed.output).toContain('tls-key: "********"');
    for (const run of [failed, printed]) expect(run.output).not.toContain('PRIVATE KEY');
  });

  it('--print-config shows a secret file option that holds a path', () => {
    const config = { ...defaults(), tlsKey: keyPath, fileSignerPasswdFile: 'hunter2' };
    const printed = formatConfig(config);
    expect(printed).toContain(`tls-key: ${keyPath}`);
    // A password set for its file's path looks like a path: errors do not show it, this does.
    expect(printed).toContain('file-signer-passwd-file: hunter2');
    expect(formatConfig({ ...config, tlsKey: KEY })).toContain('tls-key: "********"');
  });

  it('marks every option that names a file holding a secret', () => {
    const marked = Object.values(SERVE_OPTIONS)
      .filter((spec) => 'secretFile' in spec && spec.secretFile)
      .map((spec) => spec.flag);
    expect(marked.sort()).toEqual([
      'file-signer-key-path',
      'file-signer-passwd-file',
      'ledger-password-file',
      'tink-hcvault-token-file',
      'tink-keyset-path',
      'tls-key',
    ]);
  });
});

function defaults(): ServeConfig {
  return Object.fromEntries(
    Object.entries(SERVE_OPTIONS).map(([name, spec]) => [name, spec.default]),
  ) as unknown as ServeConfig;
}

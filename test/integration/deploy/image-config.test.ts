import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { execForm, parseDockerfile, type Stage } from '../../helpers/dockerfile.js';
import { tempDir } from '../../helpers/openssl.js';
import { cliArguments, REPO_ROOT } from '../../helpers/spawn-server.js';

/**
 * Flags beat environment variables, which beat the config file, which beats the image's defaults
 * (TIMESTAMP_SERVER_DEFAULT_*). So the image sets its defaults as those and compose its choices as
 * variables, never as flags in their commands: a flag there would silently win over
 * `docker run -e TIMESTAMP_SIGNER=kms` and a mounted config file, and an image's HOST over the
 * file's `host:`. This runs the server's own
 * --print-config with the image's command line and environment, as the container would.
 */
const work = tempDir();
afterAll(() => work.cleanup());

const deploy = parseDockerfile(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8')).find(
  (stage) => stage.name === 'deploy',
) as Stage;
const instruction = (keyword: string) =>
  deploy.instructions.filter((item) => item.keyword === keyword).map((item) => item.args);
const imageEnv = Object.fromEntries(
  instruction('ENV').map((args) => {
    const at = args.indexOf('=');
    return [args.slice(0, at), args.slice(at + 1)];
  }),
) as Record<string, string>;
const imageCmd = execForm(instruction('CMD')[0] ?? '[]');

interface Service {
  build?: { target: string };
  entrypoint?: string[];
  command?: string[];
  environment?: Record<string, string>;
}
const services = (
  parse(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8')) as {
    services: Record<string, Service>;
  }
).services;

let configs = 0;
/** The effective configuration of `timestamp-server <args>` with only `env` and maybe a file. */
function effective(
  args: string[],
  env: Record<string, string>,
  configText?: string,
): Record<string, unknown> {
  const config = configText ? [`--config=${work.write(`c${++configs}.yaml`, configText)}`] : [];
  const run = spawnSync(
    process.execPath,
    [...cliArguments(), ...args, ...config, '--print-config'],
    {
      // No HOME or working directory with a timestamp-server.yaml, no variable of this shell.
      cwd: work.dir,
      env: { PATH: process.env['PATH'] ?? '', HOME: work.dir, ...env },
      encoding: 'utf8',
    },
  );
  expect(run.status, run.stderr).toBe(0);
  return parse(run.stdout) as Record<string, unknown>;
}

const A_FILE_SIGNER = `timestamp-signer: file
file-signer-key-path: /etc/tsa/key.pem
certificate-chain-path: /etc/tsa/chain.pem
port: 8443
log-type: prod
`;

describe('the image: defaults that -e and a mounted config file can change', () => {
  it('its command is `serve` without option flags', () => {
    expect(imageCmd).toEqual(['serve']);
  });

  it('serves on 0.0.0.0:3000 with the in-memory signer and dev logs, as it did', () => {
    expect(effective(imageCmd, imageEnv)).toMatchObject({
      host: '0.0.0.0',
      port: 3000,
      'timestamp-signer': 'memory',
      'log-type': 'dev',
    });
  });

  it('docker run -e TIMESTAMP_SIGNER=kms -e PORT=8080 gets the KMS signer on 8080', () => {
    const env = {
      ...imageEnv,
      TIMESTAMP_SIGNER: 'kms',
      KMS_KEY_RESOURCE: 'awskms:///alias/tsa',
      PORT: '8080',
    };
    expect(effective(imageCmd, env)).toMatchObject({
      host: '0.0.0.0',
      port: 8080,
      'timestamp-signer': 'kms',
      'kms-key-resource': 'awskms:///alias/tsa',
    });
  });

  it("a mounted config file's signer, port and log type apply; the host stays the image's", () => {
    expect(effective(imageCmd, imageEnv, A_FILE_SIGNER)).toMatchObject({
      host: '0.0.0.0',
      port: 8443,
      'timestamp-signer': 'file',
      'log-type': 'prod',
    });
  });

  it("a mounted config file's host: 127.0.0.1 applies, to the metrics listener too", () => {
    // Loopback behind an mTLS or auth sidecar: the image's default must not beat the file.
    expect(effective(imageCmd, imageEnv, 'host: 127.0.0.1\n')).toMatchObject({
      host: '127.0.0.1',
      'metrics-host': '',
    });
    expect(imageEnv).not.toHaveProperty('HOST');
    expect(imageEnv).not.toHaveProperty('PORT');
  });
});

describe('docker-compose.yml: the servers set their options as variables', () => {
  const servers = Object.entries(services).filter(
    ([, service]) => service.build?.target === 'deploy' && service.entrypoint === undefined,
  );

  it('has two servers, neither with an option flag in its command', () => {
    expect(servers.map(([name]) => name).sort()).toEqual([
      'timestamp-server',
      'timestamp-server-nts',
    ]);
    for (const [name, service] of servers)
      expect(
        (service.command ?? imageCmd).filter((arg) => arg.startsWith('-')),
        name,
      ).toEqual([]);
  });

  it('timestamp-server: the image defaults, which a mounted config file can change', () => {
    const service = services['timestamp-server'] as Service;
    const args = service.command ?? imageCmd;
    const env = { ...imageEnv, ...service.environment };
    expect(effective(args, env)).toMatchObject({
      host: '0.0.0.0',
      port: 3000,
      'timestamp-signer': 'memory',
    });
    expect(effective(args, env, A_FILE_SIGNER)).toMatchObject({
      port: 8443,
      'timestamp-signer': 'file',
    });
  });

  it('timestamp-server-nts: chrony with NTS required, which `run -e` can change', () => {
    const service = services['timestamp-server-nts'] as Service;
    const args = service.command ?? imageCmd;
    const env = { ...imageEnv, ...service.environment };
    expect(effective(args, env)).toMatchObject({
      host: '0.0.0.0',
      port: 3000,
      'metrics-port': 2112,
      'timestamp-signer': 'memory',
      'time-source': 'chrony',
      'chrony-socket': '/run/chrony-shared/chrony/chronyd.sock',
      'require-nts': true,
    });
    expect(effective(args, { ...env, CHRONY_SOCKET: '/run/other.sock' })).toMatchObject({
      'chrony-socket': '/run/other.sock',
    });
  });
});

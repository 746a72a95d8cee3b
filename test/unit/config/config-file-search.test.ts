import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadServeConfig } from '../../../src/config/load.js';
import { configRefusal, configWorkspace } from '../../helpers/config-layers.js';

type Workspace = ReturnType<typeof configWorkspace>;

/** The search as `serve` runs it: $HOME, then the working directory. */
const load = (dir: Workspace, extra: { configPath?: string; program?: string } = {}) =>
  loadServeConfig({
    flags: {},
    env: {},
    searchDirs: [dir.path('home'), dir.path('cwd')],
    program: extra.program ?? '/nonexistent/timestamp-server',
    ...(extra.configPath === undefined ? {} : { configPath: extra.configPath }),
  });

const refusal = (dir: Workspace, extra?: { configPath?: string; program?: string }) => {
  const error = configRefusal(() => load(dir, extra));
  expect(error.code).toBe('FILE_INVALID');
  return error.message;
};

/**
 * The Go server's viper search takes timestamp-server.<any of its types> and a bare
 * timestamp-server: a file it would read and this server would not must stop start-up, which
 * would otherwise run with the defaults (the memory signer).
 */
describe('the config file search', () => {
  it.each(['toml', 'hcl', 'ini', 'env', 'dotenv', 'properties', 'props', 'prop', 'tfvars'])(
    'refuses timestamp-server.%s, naming it and what this server reads',
    (type) => {
      const dir = configWorkspace();
      const path = dir.write(`cwd/timestamp-server.${type}`, 'timestamp-signer = "kms"\n');
      expect(refusal(dir)).toBe(
        `config file search: found ${path}, which the Go server reads as its config file, but this server reads only timestamp-server.yaml, .yml or .json and would start without it: convert it to YAML or JSON, remove it, or name a config file with --config`,
      );
    },
  );

  it('refuses a bare timestamp-server file, unless it is this program', () => {
    const dir = configWorkspace();
    const bare = dir.write('home/timestamp-server', 'port: 1\n');
    expect(refusal(dir)).toContain(`found ${bare}, which the Go server reads`);
    // `cd bin && ./timestamp-server serve`: the link to this program is no config file.
    expect(load(dir, { program: bare }).configFile).toBeUndefined();
    const link = join(dir.path('cwd'), 'timestamp-server');
    symlinkSync(bare, link);
    expect(load(dir, { program: link }).configFile).toBeUndefined();
  });

  it('takes no directory named timestamp-server (a checkout in $HOME), as viper does not', () => {
    const dir = configWorkspace();
    mkdirSync(dir.path('home/timestamp-server'));
    const yaml = dir.write('cwd/timestamp-server.yaml', 'port: 1\n');
    expect(load(dir)).toMatchObject({ configFile: yaml, config: { port: 1 } });
  });

  it('refuses two files in one directory, naming the one Go reads (json before yaml)', () => {
    const dir = configWorkspace();
    dir.write('cwd/timestamp-server.yaml', 'port: 1\n');
    dir.write('cwd/timestamp-server.json', '{"port": 2}');
    expect(refusal(dir)).toBe(
      `config file search: ${dir.path('cwd')} holds timestamp-server.json and timestamp-server.yaml; the Go server reads timestamp-server.json (viper's order), this server only one of timestamp-server.yaml, .yml or .json: keep one, or name it with --config`,
    );
  });

  it("stops at the first directory holding one, as viper: a .toml in the working directory after $HOME's .yaml is not read by either", () => {
    const dir = configWorkspace();
    const yaml = dir.write('home/timestamp-server.yaml', 'port: 1\n');
    dir.write('cwd/timestamp-server.toml', 'port = 2\n');
    expect(load(dir).configFile).toBe(yaml);
  });

  it('refuses --config naming a TOML (or another non-YAML viper type) file; another name is read as YAML', () => {
    const dir = configWorkspace();
    const toml = dir.write('tsa.toml', '');
    expect(refusal(dir, { configPath: toml })).toBe(
      `config file ${toml}: a .toml file, which this server does not read: give it as YAML or JSON`,
    );
    const conf = dir.write('tsa.conf', 'port: 4\n');
    expect(load(dir, { configPath: conf }).config.port).toBe(4);
  });
});

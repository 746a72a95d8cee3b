import { execFile } from 'node:child_process';
import {
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { childEnvironment, freePort } from './process.js';

const run = promisify(execFile);

/**
 * The newest PostgreSQL server Debian's or Ubuntu's postgresql package installed: its version is
 * the release's (Debian 12: 15, Ubuntu 22.04: 14, 24.04: 16, Debian 13: 17).
 */
export function postgresBin(root = '/usr/lib/postgresql'): string {
  const versions = (existsSync(root) ? readdirSync(root) : [])
    .filter((name) => /^\d+(\.\d+)?$/.test(name) && existsSync(join(root, name, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  if (versions[0] === undefined) {
    throw new Error(
      `no PostgreSQL server (${root}/*/bin/initdb): run \`make test-deps\` (Debian package postgresql)`,
    );
  }
  return join(root, versions[0], 'bin');
}

/**
 * The environment of initdb, pg_ctl and createdb: childEnvironment()'s, which has none of libpq's
 * PG* variables (a developer's PGHOST, PGPORT or PGSSLMODE would redirect createdb), less the
 * locale (initdb refuses a LANG the machine has no locale for, `invalid locale settings`; the
 * cluster is made with --no-locale anyway), in the C locale, with the cluster's password.
 */
function postgresEnvironment(password: string): NodeJS.ProcessEnv {
  const locale = /^(LANG|LANGUAGE|LC_[A-Z_]+)$/;
  const env = Object.fromEntries(
    Object.entries(childEnvironment()).filter(([name]) => !locale.test(name)),
  );
  return { ...env, LC_ALL: 'C', PGPASSWORD: password };
}

/** Attempts at a start on a free port before giving up (each lost only to a race for the port). */
const PORT_ATTEMPTS = 10;

/** initdb and postgres refuse to run as root: as root, the cluster belongs to `nobody`. */
const NOBODY = { uid: 65534, gid: 65534 };

export interface TestPostgres {
  /** postgres://tsa:<password>@127.0.0.1:<port>/tsa */
  url: string;
  /** The same URL without the password (for --ledger-password-file). */
  urlWithoutPassword: string;
  password: string;
  passwordFile: string;
  port: number;
  dir: string;
  /** Stops the server at once (an outage: `pg_ctl stop -m immediate`). */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
  /**
   * Freezes the server (SIGSTOP to its postmaster, then to each of its children): connections
   * stay open and nothing answers, as in a partition. Returns the thaw (SIGCONT to all of them),
   * which the caller must run in a `finally`.
   */
  freeze(): Promise<() => void>;
  /** Stops it and removes its folder. */
  destroy(): Promise<void>;
}

/**
 * A throw-away PostgreSQL cluster ({@link postgresBin}'s server): initdb in a temporary
 * folder, listening on a free 127.0.0.1 port and a socket in that folder, password auth (scram).
 * `fsync` off unless asked: tests check what the server does, not what the disk does. With `tls`
 * (a key and certificate in PEM), it also answers TLS (`ssl=on`: a client may ask for it or not).
 */
export async function startPostgres(
  options: { fsync?: boolean; tls?: { key: string; cert: string } } = {},
): Promise<TestPostgres> {
  const bin = postgresBin();
  const dir = mkdtempSync(join(tmpdir(), 'tsa-pg-'));
  const data = join(dir, 'data');
  const password = 'test-password-' + Math.random().toString(36).slice(2);
  const pwFile = join(dir, 'pw');
  writeFileSync(pwFile, password + '\n', { mode: 0o600 });
  const root = process.getuid?.() === 0;
  if (root) {
    chownSync(dir, NOBODY.uid, NOBODY.gid);
    chownSync(pwFile, NOBODY.uid, NOBODY.gid);
  }
  let tlsFiles: { key: string; cert: string } | undefined;
  if (options.tls) {
    tlsFiles = { key: join(dir, 'server.key'), cert: join(dir, 'server.crt') };
    // The key must be the server's own and unreadable by others, or postgres refuses to start.
    writeFileSync(tlsFiles.key, options.tls.key, { mode: 0o600 });
    writeFileSync(tlsFiles.cert, options.tls.cert);
    if (root) chownSync(tlsFiles.key, NOBODY.uid, NOBODY.gid);
  }
  const env = postgresEnvironment(password);
  const as = (command: string, args: string[]) =>
    root
      ? run('runuser', ['-u', 'nobody', '--', command, ...args], { cwd: dir, env })
      : run(command, args, { cwd: dir, env });
  // Taken once initdb is done, as late as can be: another test may bind a free port meanwhile.
  let port = 0;
  const settings = () =>
    [
      `-p ${port}`,
      `-k ${dir}`,
      "-c listen_addresses='127.0.0.1'",
      `-c fsync=${options.fsync ? 'on' : 'off'}`,
      '-c max_connections=100',
      ...(tlsFiles
        ? ['-c ssl=on', `-c ssl_cert_file=${tlsFiles.cert}`, `-c ssl_key_file=${tlsFiles.key}`]
        : []),
    ].join(' ');
  const log = join(dir, 'log');
  const logSize = () => (existsSync(log) ? statSync(log).size : 0);
  const logSince = (offset: number) =>
    existsSync(log) ? readFileSync(log).subarray(offset).toString() : '';
  const start = async () => {
    await as(`${bin}/pg_ctl`, ['-D', data, '-o', settings(), '-l', log, '-w', '-t', '60', 'start']);
  };
  const stop = async () => {
    await as(`${bin}/pg_ctl`, ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
  };
  const freeze = async () => {
    // By PID (this cluster's postmaster.pid, then its children), never by name: other clusters
    // may run on the machine.
    const postmaster = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (!Number.isInteger(postmaster) || postmaster <= 1) {
      throw new Error(`no postmaster PID in ${data}/postmaster.pid`);
    }
    const stopped: number[] = [];
    const thaw = () => {
      for (const pid of [...stopped].reverse()) {
        try {
          process.kill(pid, 'SIGCONT');
        } catch {
          // Gone meanwhile.
        }
      }
    };
    try {
      // The postmaster first: a stopped postmaster starts no new child.
      process.kill(postmaster, 'SIGSTOP');
      stopped.push(postmaster);
      const { stdout } = await run('pgrep', ['-P', String(postmaster)]).catch(() => ({
        stdout: '',
      }));
      for (const pid of stdout.split('\n').filter(Boolean).map(Number)) {
        process.kill(pid, 'SIGSTOP');
        stopped.push(pid);
      }
    } catch (error) {
      thaw();
      throw error;
    }
    return thaw;
  };
  try {
    await as(`${bin}/initdb`, [
      '-D',
      data,
      '-U',
      'tsa',
      '--auth=scram-sha-256',
      `--pwfile=${pwFile}`,
      '--no-sync',
      '-E',
      'UTF8',
      // The C locale, whatever the machine's (sorting and messages do not vary with it).
      '--no-locale',
    ]);
    // The port is free when taken and bound a moment later: another process may bind it meanwhile
    // (the server then fails "Address already in use"), so a new one is taken.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const logged = logSize();
      try {
        await start();
        break;
      } catch (error) {
        const lostPort = /could not bind .*Address already in use/.test(logSince(logged));
        if (!lostPort || attempt === PORT_ATTEMPTS) throw error;
      }
    }
    // A database named like its owner, so the URL's path is simply /tsa.
    await as(`${bin}/createdb`, ['-h', dir, '-p', String(port), '-U', 'tsa', 'tsa']);
  } catch (error) {
    // No caller gets destroy() then: stop what started, remove the folder.
    await stop();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const passwordFile = join(dir, 'ledger-password');
  writeFileSync(passwordFile, password + '\n', { mode: 0o600 });
  return {
    url: `postgres://tsa:${password}@127.0.0.1:${port}/tsa`,
    urlWithoutPassword: `postgres://tsa@127.0.0.1:${port}/tsa`,
    password,
    passwordFile,
    port,
    dir,
    stop,
    start,
    freeze,
    destroy: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The serve flags of a ledger and transparency log in `postgres` (its password from its file),
 * the log signed with the key at `logKeyPath` under `origin`.
 */
export function ledgerServeFlags(
  postgres: Pick<TestPostgres, 'urlWithoutPassword' | 'passwordFile'>,
  logKeyPath: string,
  origin: string,
): string[] {
  return [
    '--ledger-url',
    postgres.urlWithoutPassword,
    '--ledger-password-file',
    postgres.passwordFile,
    '--ledger-key',
    logKeyPath,
    '--ledger-origin',
    origin,
  ];
}

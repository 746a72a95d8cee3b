/**
 * With --workers N, every worker has its own module process and login, and so would offer a wrong
 * PIN once each: N attempts against the HSM's lockout counter at start-up, and again when the PIN
 * changes on the HSM while the server runs. The workers offer a PIN through the primary instead:
 * one at a time, and a PIN the token refused one of them is refused to the others unoffered. The
 * token's side is read from OpenSC's pkcs11-spy, a real PKCS#11 module between the workers and
 * SoftHSM2 that logs every call and its answer.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli as runTimestampCli } from '../../../helpers/cli.js';
import { tempDir } from '../../../helpers/openssl.js';
import { UNTIL_SETTLED } from '../../../helpers/poll.js';
import {
  runCli as runServer,
  SERVE_ON_EPHEMERAL_PORTS,
  spawnServer,
} from '../../../helpers/spawn-server.js';
import { PKCS11_SPY_MODULE, SOFTHSM_MODULE, SoftHsm, TEST_PIN } from '../../../helpers/softhsm.js';
import { helloTimeStampReq } from '../../../loadtest/request.js';

const WORKERS = 3;
const ROTATED_PIN = '4242-rotated-pin';
const hsm = new SoftHsm();
const dir = tempDir();
const spyLog = dir.path('spy.log');
const chainPath = dir.path('chain.pem');
/** The server's module: the spy, which forwards to SoftHSM2 (its environment below). */
const spiedUri = hsm
  .uri('tsa', 'tsa-key')
  .replace(`module-path=${SOFTHSM_MODULE}`, `module-path=${PKCS11_SPY_MODULE}`);
const spyEnv = { SOFTHSM2_CONF: hsm.conf, PKCS11SPY: SOFTHSM_MODULE, PKCS11SPY_OUTPUT: spyLog };
const serverFlags = [
  '--workers',
  String(WORKERS),
  '--timestamp-signer',
  'pkcs11',
  '--pkcs11-uri',
  spiedUri,
  '--certificate-chain-path',
  chainPath,
  '--disable-ntp-monitoring',
];

afterAll(() => {
  hsm.cleanup();
  dir.cleanup();
});

beforeAll(async () => {
  await hsm.initToken('tsa');
  await hsm.keygen('tsa', 'root', 'EC:prime256v1', '01');
  await hsm.keygen('tsa', 'tsa-key', 'EC:prime256v1', '02');
  const made = await runTimestampCli(
    [
      'certificates',
      'create',
      ...['--root-key', hsm.uri('tsa', 'root'), '--intermediate-key', hsm.uri('tsa', 'root')],
      ...['--leaf-key', hsm.uri('tsa', 'tsa-key'), '--organization', 'HSM cluster test'],
      ...['--output', chainPath],
    ],
    { env: { SOFTHSM2_CONF: hsm.conf } },
  );
  expect(made.code, made.stderr).toBe(0);
});

/** The answers the token gave to C_Login since the spy's log began, in order (CKR_ names). */
function loginAnswers(): string[] {
  let log: string;
  try {
    log = readFileSync(spyLog, 'utf8');
  } catch {
    return [];
  }
  // Each call: "N: C_Login", its arguments, then "Returned:  <n> <CKR_…>".
  return [...log.matchAll(/: C_Login\n[\s\S]*?Returned:\s+\d+ (\w+)/g)].map(
    (match) => match[1] ?? '',
  );
}

/** A time-stamp request on a connection of its own: node:cluster hands each to the next worker. */
function timestamp(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      `${url}/api/v1/timestamp`,
      {
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/timestamp-query' },
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
        response.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    outgoing.end(helloTimeStampReq());
  });
}

/** The processes `pid` started, and theirs (Linux `ps`). */
function descendants(pid: number): number[] {
  const table = execFileSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number) as [number, number]);
  const children = table.filter(([, parent]) => parent === pid).map(([child]) => child);
  return children.flatMap((child) => [child, ...descendants(child)]);
}

/**
 * The server with a fresh spy log, started again (twice at most) when a worker found no token:
 * SoftHSM2's file backend (Debian's is built without the db one) rewrites the token's file at each
 * C_Login (its PIN counters), and another worker's C_GetTokenInfo that reads it meanwhile finds
 * no token of that label. A race of the test's HSM between processes, not of the server.
 */
async function spawnOverSoftHsm(): Promise<Awaited<ReturnType<typeof spawnServer>>> {
  for (let attempt = 1; ; attempt++) {
    writeFileSync(spyLog, '');
    try {
      return await spawnServer(serverFlags, spyEnv);
    } catch (error) {
      if (attempt === 3 || !/no token matches/.test(String(error))) throw error;
    }
  }
}

describe(`pkcs11 PIN offers with --workers ${WORKERS}`, () => {
  // Without the gate this one passes when the first refusal stops the start before the other
  // workers log in (it often does): the next test shows the gate whatever the timing.
  it('a wrong PIN at start-up is offered once, not once per worker, and the start fails', async () => {
    writeFileSync(spyLog, '');
    writeFileSync(hsm.pinFile, 'not-the-pin\n');
    try {
      const run = runServer([...SERVE_ON_EPHEMERAL_PORTS, ...serverFlags], spyEnv);
      expect(await run.exited).not.toBe(0);
      expect(run.stdout() + run.stderr()).toContain(
        'the token refused the PIN (CKR_PIN_INCORRECT)',
      );
      expect(loginAnswers()).toEqual(['CKR_PIN_INCORRECT']);
    } finally {
      writeFileSync(hsm.pinFile, `${TEST_PIN}\n`);
    }
  });

  it('a PIN changed on the HSM is offered once after every worker reconnects; the new one, once per worker', async () => {
    const server = await spawnOverSoftHsm();
    try {
      expect(loginAnswers()).toEqual(Array<string>(WORKERS).fill('CKR_OK'));
      await hsm.changePin('tsa', TEST_PIN, ROTATED_PIN);
      // Every worker's module process gone (as when the HSM client restarts): each worker
      // reconnects, with the PIN file's, now wrong, PIN, at its next signature.
      const workers = descendants(server.child.pid ?? 0);
      expect(workers.length).toBeGreaterThanOrEqual(2 * WORKERS); // workers and module processes
      const modules = workers.filter((pid) => descendants(pid).length === 0);
      for (const pid of modules) process.kill(pid, 'SIGKILL');

      const statuses: number[] = [];
      for (let i = 0; i < 4 * WORKERS; i++) statuses.push(await timestamp(server.url));
      // The first ones fail as they find the module gone (500) or meet the refused PIN (503, as
      // the refusals after it); then every worker refuses issuance until the file changes (503:
      // mended without a restart).
      expect(statuses).not.toContain(200);
      expect(statuses.slice(-WORKERS)).toEqual(Array<number>(WORKERS).fill(503));
      expect(loginAnswers().slice(WORKERS)).toEqual(['CKR_PIN_INCORRECT']);

      // The operator updates the PIN file: each worker offers the new PIN, and signs again.
      writeFileSync(hsm.pinFile, `${ROTATED_PIN}\n`);
      await expect
        .poll(async () => {
          const answers = await Promise.all(
            Array.from({ length: WORKERS }, () => timestamp(server.url)),
          );
          return answers.every((status) => status === 200);
        }, UNTIL_SETTLED)
        .toBe(true);
      // One accepted login per worker, and no wrong PIN offered. (SoftHSM2 may answer one of
      // the workers' concurrent logins CKR_GENERAL_ERROR, its token files shared between the
      // processes: that worker logs in at its next signature.)
      const after = loginAnswers().slice(WORKERS + 1);
      expect(after.filter((answer) => answer === 'CKR_OK')).toHaveLength(WORKERS);
      expect(after).not.toContain('CKR_PIN_INCORRECT');
    } finally {
      await server.stop();
      await hsm.changePin('tsa', ROTATED_PIN, TEST_PIN).catch(() => {});
      writeFileSync(hsm.pinFile, `${TEST_PIN}\n`);
    }
  });
});

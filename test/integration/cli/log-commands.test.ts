import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { errorLine } from '../../../src/cli/exit-status.js';
import { logAuditCommand } from '../../../src/cli/timestamp-cli/log-audit-command.js';
import { logProofCommand } from '../../../src/cli/timestamp-cli/log-proof-command.js';
import type { Output } from '../../../src/cli/timestamp-cli/output.js';
import type { GlobalOptions } from '../../../src/cli/timestamp-cli/timestamp-command.js';
import { verifyCommand } from '../../../src/cli/timestamp-cli/verify-command.js';
import {
  formatCheckpoint,
  formatEntryBundle,
  formatTlogProof,
  parseTlogProof,
  signNote,
  treeHash,
} from '../../../src/tlog/index.js';
import {
  issueTokens,
  startLogServer,
  type LogServer,
  type LoggedToken,
} from '../../helpers/log-server.js';
import { makePki, type Pki } from '../../helpers/pki.js';
import { TestLog } from '../../helpers/tlog-log.js';

/**
 * The client side of issue 15 (log-proof, verify --log-proof, log-audit) against a static server
 * of a log our library made from tokens issued in-process, so that it does not depend on the
 * server's ledger. 300 tokens: a full and a partial level-0 tile and a partial level-1 tile; a
 * checkpoint saved at 150.
 */

type Make = (globals: () => GlobalOptions, output: Output) => Command;

let dir: string;
let pki: Pki;
let tokens: LoggedToken[];
let log: TestLog;
let server: LogServer;
let savedCheckpoint: string;

async function run(
  make: Make,
  args: string[],
  url = server.url,
  timeout = 30_000,
): Promise<string> {
  let stdout = '';
  const output: Output = { stdout: (text) => (stdout += text), stderr: () => undefined };
  const globals = (): GlobalOptions => ({
    timestampServer: url,
    format: 'default',
    timeout,
  });
  await make(globals, output).exitOverride().parseAsync(args, { from: 'user' });
  return stdout;
}

/** A server on 127.0.0.1 for the answers the static log server does not give. */
async function localServer(handler: RequestListener) {
  const local = createServer(handler);
  await new Promise<void>((resolve) => local.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(local.address() as AddressInfo).port}`,
    close: () => {
      local.closeAllConnections();
      return new Promise((resolve) => local.close(resolve));
    },
  };
}

const file = async (name: string, data: string | Uint8Array): Promise<string> => {
  await writeFile(join(dir, name), data);
  return join(dir, name);
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'log-cli-'));
  pki = await makePki();
  tokens = await issueTokens(pki, 300);
  log = new TestLog('tsa.example.com/log');
  await log.append(...tokens.slice(0, 150).map((t) => t.token));
  savedCheckpoint = await log.publish();
  await log.append(...tokens.slice(150).map((t) => t.token));
  await log.publish();
  server = await startLogServer(log);
  await file('chain.pem', pki.chainPem);
  await file('artifact-7', 'artifact 7');
  await file('token-7.tsr', tokens[7]!.response);
  await file('log.key', `${log.vkey}\n`);
  await file('saved-checkpoint', savedCheckpoint);
});

afterAll(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('timestamp-cli log-proof', () => {
  it.each(['0x1007', '0X1007', '1007', '0x0000001007', '0x1007'.toUpperCase().replace('0X', '0x')])(
    'fetches the proof of serial %s',
    async (serial) => {
      const out = join(dir, `proof-${serial}`);
      const stdout = await run(logProofCommand, ['--serial', serial, '--out', out]);
      expect(stdout).toBe(`Log proof of serial 0x1007 (index 7) saved to ${out}\n`);
      expect(await readFile(out, 'utf8')).toBe(await log.proof(7));
      expect(server.requests.at(-1)).toBe('proof?serial=1007');
    },
  );

  it('retries a GET once when the connection is reset', async () => {
    const out = join(dir, 'proof-reset');
    server.resetOnce.add('proof');
    await run(logProofCommand, ['--serial', '1009', '--out', out]);
    expect(parseTlogProof(await readFile(out, 'utf8')).index).toBe(9);
    expect(server.requests.slice(-2)).toEqual(['proof?serial=1009', 'proof?serial=1009']);
  });

  describe('one --timeout for the command (a clock of the test: no real time)', () => {
    const TIMEOUT = 1_000;
    let now = 0;
    const withClock: Make = (globals, output) => logProofCommand(globals, output, () => now);

    /** The proof's route: the first request takes `firstTakesMs` of the clock and is reset. */
    function resetAfter(firstTakesMs: number): void {
      let calls = 0;
      server.overrides.set('proof', (request, response) => {
        if (++calls === 1) {
          now += firstTakesMs;
          request.socket.destroy();
          return;
        }
        void log.proof(9).then((proof) => response.end(proof));
      });
    }

    afterEach(() => {
      server.overrides.delete('proof');
      vi.restoreAllMocks();
    });

    it('gives the retry of a GET only what the first attempt left of --timeout', async () => {
      resetAfter(400);
      const timeouts = vi.spyOn(AbortSignal, 'timeout');
      server.requests.length = 0;
      const out = join(dir, 'proof-budget');
      await run(withClock, ['--serial', '1009', '--out', out], server.url, TIMEOUT);
      expect(parseTlogProof(await readFile(out, 'utf8')).index).toBe(9);
      expect(server.requests).toEqual(['proof?serial=1009', 'proof?serial=1009']);
      expect(timeouts.mock.calls).toEqual([[TIMEOUT], [TIMEOUT - 400]]);
    });

    it('makes no retry once the first attempt has spent --timeout', async () => {
      resetAfter(TIMEOUT);
      server.requests.length = 0;
      const refused = run(
        withClock,
        ['--serial', '1009', '--out', join(dir, 'proof-spent')],
        server.url,
        TIMEOUT,
      );
      await expect(refused).rejects.toThrow(
        new RegExp(
          `^GET ${server.url}/api/v1/log/proof\\?serial=1009: fetch failed: .*, and --timeout ran out before a retry$`,
        ),
      );
      expect(server.requests).toEqual(['proof?serial=1009']);
    });

    describe('--wait', () => {
      /** A clock that --wait's sleeps advance, and the sleeps. */
      const slept: number[] = [];
      const waiting: Make = (globals, output) =>
        logProofCommand(
          globals,
          output,
          () => now,
          async (ms) => {
            slept.push(ms);
            now += ms;
          },
        );

      /** The proof's route: "not yet" (Retry-After `seconds`) `times` times, then the proof. */
      function notYet(times: number, seconds: string): void {
        let calls = 0;
        server.overrides.set('proof', (_request, response) => {
          if (++calls > times) return void log.proof(9).then((proof) => response.end(proof));
          response
            .writeHead(404, { 'content-type': 'application/json', 'retry-after': seconds })
            .end(JSON.stringify({ code: 404, message: `not in a signed checkpoint yet` }));
        });
      }

      afterEach(() => {
        slept.length = 0;
      });

      it('waits as the server asks, at least a second, and asks again until the proof is there', async () => {
        notYet(2, '0');
        const out = join(dir, 'proof-waited');
        await run(waiting, ['--serial', '1009', '--out', out, '--wait'], server.url, 10_000);
        expect(parseTlogProof(await readFile(out, 'utf8')).index).toBe(9);
        expect(slept).toEqual([1_000, 1_000]);
      });

      it.each([
        ['past --timeout', '2', TIMEOUT],
        // Longer, setTimeout fires at once: a loop of requests.
        ['longer than a timer can (2^31 - 1 ms), even without --timeout', '999999999', 0],
      ])('does not wait %s: the "not yet" is the answer', async (_, retryAfter, timeout) => {
        notYet(1, retryAfter);
        const refused = run(
          waiting,
          ['--serial', '1009', '--out', join(dir, 'proof-not-waited'), '--wait'],
          server.url,
          timeout,
        );
        await expect(refused).rejects.toThrow(
          `GET ${server.url}/api/v1/log/proof?serial=1009: HTTP 404: not in a signed checkpoint yet`,
        );
        expect(slept).toEqual([]);
      });

      it('does not wait without --wait', async () => {
        notYet(1, '1');
        await expect(
          run(waiting, ['--serial', '1009', '--out', join(dir, 'proof-no-wait')]),
        ).rejects.toThrow('HTTP 404: not in a signed checkpoint yet');
        expect(slept).toEqual([]);
      });
    });

    it("asks for the key only with time left after the proof's 404", async () => {
      server.overrides.set('proof', (_request, response) => {
        now += TIMEOUT;
        response.writeHead(404).end();
      });
      server.requests.length = 0;
      await expect(
        run(withClock, ['--serial', 'ffff', '--out', join(dir, 'no-key')], server.url, TIMEOUT),
      ).rejects.toThrow(
        `the log has no token with serial number 0xffff, or ${server.url} has no transparency log (could not tell which: --timeout ran out before GET /api/v1/log/key)`,
      );
      expect(server.requests).toEqual(['proof?serial=ffff']);
    });
  });

  it("says a token not in a signed checkpoint yet is that, with the server's words, not missing", async () => {
    server.overrides.set('proof', (_request, response) => {
      response.writeHead(404, { 'content-type': 'application/json', 'retry-after': '30' }).end(
        JSON.stringify({
          code: 404,
          message: 'the token is not in a signed checkpoint yet: retry in 30 s',
        }),
      );
    });
    try {
      await expect(
        run(logProofCommand, ['--serial', '1008', '--out', join(dir, 'not-yet')]),
      ).rejects.toThrow(
        `GET ${server.url}/api/v1/log/proof?serial=1008: HTTP 404: the token is not in a signed checkpoint yet: retry in 30 s`,
      );
    } finally {
      server.overrides.delete('proof');
    }
  });

  it('takes the TSA from --url, and says when the log has no such serial', async () => {
    const out = join(dir, 'proof-url');
    await run(
      logProofCommand,
      ['--serial', '1008', '--out', out, '--url', server.url],
      'http://127.0.0.1:9',
    );
    expect(parseTlogProof(await readFile(out, 'utf8')).index).toBe(8);
    await expect(run(logProofCommand, ['--serial', 'ffff', '--out', out])).rejects.toThrow(
      'the log has no token with serial number 0xffff',
    );
    await expect(run(logProofCommand, ['--serial', 'xyz', '--out', out])).rejects.toThrow(
      /not a hexadecimal serial number/,
    );
  });

  it('says so when the server has no log at all (no ledger), not that the serial is unknown', async () => {
    // As our server without --ledger-key: the Go 404 of an unknown route, on every log path.
    const paths: string[] = [];
    const bare = await localServer((request, response) => {
      const path = (request.url ?? '').split('?')[0] ?? '';
      paths.push(path);
      response
        .writeHead(404, { 'Content-Type': 'application/json' })
        .end(JSON.stringify({ code: 404, message: `path ${path} was not found` }));
    });
    try {
      const out = join(dir, 'no-log');
      const refusal = run(logProofCommand, ['--serial', 'ffff', '--out', out], bare.url);
      await expect(refusal).rejects.toThrow(
        `${bare.url} has no transparency log (GET /api/v1/log/key: 404; a TSA publishes one with --ledger-url and --ledger-key)`,
      );
      expect(paths).toEqual(['/api/v1/log/proof', '/api/v1/log/key']);
    } finally {
      await bare.close();
    }
  });

  // The key is asked only to refine the proof's 404: its failure must not replace that answer.
  it.each([
    [
      'drops the connection',
      ((request) => request.socket.destroy()) satisfies RequestListener,
      30_000,
      /: fetch failed/,
    ],
    [
      'answers 500',
      ((_request, response) => response.writeHead(500).end('boom')) satisfies RequestListener,
      30_000,
      /: HTTP 500: boom\)$/,
    ],
    // A short --timeout where the probe must time out; it is never answered.
    ['never answers', (() => {}) satisfies RequestListener, 1_000, /: .*timeout.*\)$/i],
  ])(
    'a 404 for the proof, then GET /api/v1/log/key %s: the 404 is reported, the log unknown',
    async (_what, keyRoute, timeout, why) => {
      const paths: string[] = [];
      const flaky = await localServer((request, response) => {
        const path = (request.url ?? '').split('?')[0] ?? '';
        paths.push(path);
        if (path === '/api/v1/log/key') keyRoute(request, response);
        else response.writeHead(404).end();
      });
      try {
        const out = join(dir, 'unknown-log');
        const error: unknown = await run(
          logProofCommand,
          ['--serial', 'ffff', '--out', out],
          flaky.url,
          timeout,
        ).catch((e: unknown) => e);
        const message = (error as Error).message;
        expect(message).toContain(
          `the log has no token with serial number 0xffff, or ${flaky.url} has no transparency ` +
            `log (could not tell which: GET ${flaky.url}/api/v1/log/key`,
        );
        expect(message).toMatch(why);
        expect(paths.filter((path) => path === '/api/v1/log/proof')).toEqual(['/api/v1/log/proof']);
      } finally {
        await flaky.close();
      }
    },
  );
});

describe('timestamp-cli verify --log-proof', () => {
  const verifyArgs = (proof: string, key = log.vkey): string[] => [
    '--artifact',
    join(dir, 'artifact-7'),
    '--timestamp',
    join(dir, 'token-7.tsr'),
    '--certificate-chain',
    join(dir, 'chain.pem'),
    '--log-proof',
    proof,
    '--log-key',
    key,
  ];

  it('checks the checkpoint signature, the origin and the inclusion of the token', async () => {
    const proof = await file('good.tlog-proof', await log.proof(7));
    const stdout = await run(verifyCommand, verifyArgs(proof, join(dir, 'log.key')));
    expect(stdout).toContain(
      'The token is entry 7 of log tsa.example.com/log (checkpoint of size 300)',
    );
  });

  it('refuses a proof of another entry', async () => {
    const proof = await file('other.tlog-proof', await log.proof(8));
    await expect(run(verifyCommand, verifyArgs(proof))).rejects.toThrow(
      'failed to verify log proof: invalid transparency proof',
    );
  });

  it('refuses a forged checkpoint signature', async () => {
    const text = await log.proof(7);
    const forged = text.replace(
      /— (\S+) (\S{10})/,
      (_, n: string, s: string) => `— ${n} ${s.slice(0, 9)}${s[9] === 'A' ? 'B' : 'A'}`,
    );
    const proof = await file('forged.tlog-proof', forged);
    await expect(run(verifyCommand, verifyArgs(proof))).rejects.toThrow(
      /failed to verify log proof: invalid signature for key tsa\.example\.com\/log\+/,
    );
  });

  it('refuses a checkpoint whose origin is not the key name, and another log key', async () => {
    const checkpoint = await signNote(
      formatCheckpoint({
        origin: 'other.example/log',
        size: log.size,
        hash: await treeHash(log.size, log.storage),
      }),
      log.signer,
    );
    const proof = await file(
      'origin.tlog-proof',
      formatTlogProof({ ...parseTlogProof(await log.proof(7)), checkpoint }),
    );
    await expect(run(verifyCommand, verifyArgs(proof))).rejects.toThrow(
      'failed to verify log proof: checkpoint origin "other.example/log" is not "tsa.example.com/log"',
    );
    const good = await file('good2.tlog-proof', await log.proof(7));
    await expect(
      run(verifyCommand, verifyArgs(good, new TestLog('tsa.example.com/log').vkey)),
    ).rejects.toThrow('failed to verify log proof: note has no verifiable signatures');
  });

  it('wants --log-proof and --log-key together, and a well-formed key', async () => {
    const proof = await file('alone.tlog-proof', await log.proof(7));
    await expect(run(verifyCommand, verifyArgs(proof).slice(0, -2))).rejects.toThrow(
      '--log-proof and --log-key go together',
    );
    await expect(run(verifyCommand, verifyArgs(proof, 'not-a-key'))).rejects.toThrow(
      /is not a log verifier key/,
    );
  });
});

describe('timestamp-cli log-audit', () => {
  /** The audit (with the log key) refused with `message` while the log serves `body` at `path`. */
  async function refusedWhileServing(
    path: string,
    body: string | Uint8Array,
    message: string | RegExp,
  ): Promise<void> {
    server.overrides.set(path, body);
    try {
      await expect(run(logAuditCommand, [server.url, '--log-key', log.vkey])).rejects.toThrow(
        message,
      );
    } finally {
      server.overrides.delete(path);
    }
  }

  it('recomputes the tree, checks every token and serial, and consistency with a saved checkpoint', async () => {
    const out = join(dir, 'audited-checkpoint');
    const stdout = await run(logAuditCommand, [
      server.url,
      '--log-key',
      log.vkey,
      '--chain',
      join(dir, 'chain.pem'),
      '--checkpoint',
      join(dir, 'saved-checkpoint'),
      '--save-checkpoint',
      out,
    ]);
    expect(stdout).toContain('log tsa.example.com/log: 300 entries');
    expect(stdout).toContain(
      '300 tokens valid (signed under the given chain), serial numbers unique',
    );
    expect(stdout).toContain('consistent with the saved checkpoint of size 150');
    expect(stdout).not.toContain('the key the server publishes');
    expect(await readFile(out, 'utf8')).toBe(log.signed);
    // The consistency proof came from the tiles, the level-1 tile among them.
    expect(server.requests).toContain('tile/1/000.p/1');
  });

  it('says when the key is only the one the server publishes, and without --chain', async () => {
    const stdout = await run(logAuditCommand, [server.url]);
    expect(stdout).toContain('(the key the server publishes: pass --log-key to pin it)');
    expect(stdout).toContain('signature by the embedded certificate only');
  });

  it('takes the key the server publishes as text, never as the name of a local file to read', async () => {
    // A path the old parser would have read, finding a valid key there.
    server.overrides.set('key', await file('served.key', `${log.vkey}\n`));
    try {
      const refused = run(logAuditCommand, [server.url]);
      await expect(refused).rejects.toThrow(
        `GET ${server.url}/api/v1/log/key: not a log verifier key (origin+keyid+base64)`,
      );
      await expect(refused).rejects.toMatchObject({ code: 'INVALID_RESPONSE' });
    } finally {
      server.overrides.delete('key');
    }
  });

  it("escapes control characters of the server's error text (no terminal escapes)", async () => {
    const hostile = await localServer((_request, response) =>
      response.writeHead(500).end('\x1b[2K\r\x1b[1ASuccessfully verified\x07'),
    );
    try {
      const error: unknown = await run(logAuditCommand, [hostile.url]).catch((e: unknown) => e);
      // What the CLI prints (timestamp-cli.ts): the server's text, its escapes made visible.
      expect(errorLine(error)).toBe(
        `GET ${hostile.url}/api/v1/log/key: HTTP 500: \\x1b[2K\\x0d\\x1b[1ASuccessfully verified\\x07`,
      );
    } finally {
      await hostile.close();
    }
  });

  it('refuses a saved checkpoint the log is not consistent with (a fork)', async () => {
    const fork = new TestLog('tsa.example.com/log', log.privateKey);
    await fork.append(...tokens.slice(1, 151).map((t) => t.token));
    const forked = await file('forked-checkpoint', await fork.publish());
    await expect(
      run(logAuditCommand, [server.url, '--log-key', log.vkey, '--checkpoint', forked]),
    ).rejects.toThrow(
      'the log (size 300) is not consistent with the saved checkpoint (size 150): invalid transparency proof',
    );
  });

  it('refuses an older checkpoint than the saved one as served stale or rolled back', async () => {
    const longer = new TestLog('tsa.example.com/log', log.privateKey);
    await longer.append(...tokens.map((t) => t.token), tokens[0]!.token);
    const saved = await file('longer-checkpoint', await longer.publish());
    const refused = run(logAuditCommand, [
      server.url,
      '--log-key',
      log.vkey,
      '--checkpoint',
      saved,
    ]);
    await expect(refused).rejects.toThrow(
      'older checkpoint served (a stale cache or a rollback): size 300, where the saved checkpoint has size 301',
    );
    await expect(refused).rejects.toMatchObject({ code: 'VERIFICATION_FAILED' });
  });

  // A tile the consistency proof reads that is not the checkpoint's: a corrupted cache or a bad
  // server, which the entry pass reports the same way, never a fork.
  it.each([
    ['a tampered tile', 40, 'downloaded inconsistent tile'],
    ['a tile cut short', -1, 'tile tile/0/000 is 8160 bytes, want 8192'],
  ])(
    "refuses %s of the consistency proof as tiles not the checkpoint's, not as a fork",
    async (_what, at, why) => {
      const tile = Buffer.from(log.tiles.get('tile/0/000')!);
      if (at >= 0) tile[at] = tile[at]! ^ 1;
      server.overrides.set('tile/0/000', at >= 0 ? tile : tile.subarray(32));
      server.requests.length = 0;
      try {
        await expect(
          run(logAuditCommand, [
            server.url,
            '--log-key',
            log.vkey,
            '--checkpoint',
            join(dir, 'saved-checkpoint'),
          ]),
        ).rejects.toThrow(`the tiles do not hash to the checkpoint's root hash: ${why}`);
        // Found by the consistency check, which comes before the entries.
        expect(server.requests.filter((path) => path.startsWith('tile/entries/'))).toEqual([]);
      } finally {
        server.overrides.delete('tile/0/000');
      }
    },
  );

  it('refuses a checkpoint of a tree beyond 2^52 entries before fetching anything else', async () => {
    const huge = await signNote(
      formatCheckpoint({ origin: log.origin, size: 2 ** 53 - 1, hash: new Uint8Array(32) }),
      log.signer,
    );
    server.requests.length = 0;
    await refusedWhileServing(
      'checkpoint',
      huge,
      'the log checkpoint: tree size 9007199254740991 is beyond what this client supports (at most 2^52 entries)',
    );
    expect(server.requests).toEqual(['checkpoint']);
  });

  it('refuses a forged checkpoint, and a checkpoint under another key', async () => {
    const forged = log.signed.replace(
      /— (\S+) (\S{10})/,
      (_, n: string, s: string) => `— ${n} ${s.slice(0, 9)}${s[9] === 'A' ? 'B' : 'A'}`,
    );
    await refusedWhileServing(
      'checkpoint',
      forged,
      /the log checkpoint does not verify: invalid signature/,
    );
    await expect(
      run(logAuditCommand, [server.url, '--log-key', new TestLog('tsa.example.com/log').vkey]),
    ).rejects.toThrow('the log checkpoint does not verify: note has no verifiable signatures');
  });

  it('refuses an entry bundle that differs from the signed tree, and a tampered hash tile', async () => {
    const entries = log.entries.slice(0, 256);
    entries[3] = tokens[200]!.token;
    await refusedWhileServing(
      'tile/entries/000',
      formatEntryBundle(entries),
      "entry 3 is not the entry the checkpoint's tree holds",
    );
    const tile = Buffer.from(log.tiles.get('tile/0/000')!);
    tile[40] = tile[40]! ^ 1;
    await refusedWhileServing(
      'tile/0/000',
      tile,
      "the tiles do not hash to the checkpoint's root hash: downloaded inconsistent tile",
    );
  });

  it('refuses a partial entry bundle holding more entries than its width (one past it escapes every check)', async () => {
    const partial = log.entries.slice(256, 300);
    // A 45th entry: a copy of token 0, whose serial the audit would otherwise not see twice.
    await refusedWhileServing(
      'tile/entries/001.p/44',
      formatEntryBundle([...partial, log.entries[0]!]),
      'entry bundle tile/entries/001.p/44 has 45 entries, want 44',
    );
  });

  it('fetches each entry bundle and hash tile once: every hash tile the tree has, no other', async () => {
    server.requests.length = 0;
    await run(logAuditCommand, [server.url, '--log-key', log.vkey]);
    const tiles = server.requests.filter((path) => path.startsWith('tile/'));
    expect(tiles).toHaveLength(new Set(tiles).size);
    expect(tiles.sort()).toEqual([
      'tile/0/000',
      'tile/0/001.p/44',
      'tile/1/000.p/1',
      'tile/entries/000',
      'tile/entries/001.p/44',
    ]);
  });

  /**
   * The audit (--timeout 0: none) while `hung` is never answered and `missing` answers 404 once
   * `hung` has been asked for, both in one batch of tiles: it must fail with the 404 and close the
   * request it no longer waits for (left open, it would keep the process alive for ever).
   */
  async function refusedWhileOneTileHangs(hung: string, missing: string, args: string[] = []) {
    let hungAsked!: () => void;
    const asked = new Promise<void>((resolve) => (hungAsked = resolve));
    let closedByClient: Promise<void> | undefined;
    server.overrides.set(hung, (request) => {
      closedByClient = new Promise((resolve) => request.socket.once('close', resolve));
      hungAsked();
    });
    server.overrides.set(missing, (_request, response) => {
      void asked.then(() => response.writeHead(404).end());
    });
    server.requests.length = 0;
    try {
      await expect(
        run(logAuditCommand, [server.url, '--log-key', log.vkey, ...args], server.url, 0),
      ).rejects.toThrow(`GET ${server.url}/api/v1/log/${missing}: HTTP 404`);
      expect(closedByClient).toBeDefined();
      await closedByClient;
    } finally {
      server.overrides.delete(hung);
      server.overrides.delete(missing);
    }
  }

  it('ends the other GETs of a batch of tiles when one fails, even with --timeout 0', async () => {
    // The first bundle's leaf hashes: tile/0/000, authenticated by tile/0/001.p/44 and more.
    await refusedWhileOneTileHangs('tile/0/000', 'tile/0/001.p/44');
  });

  it('ends the other GETs of the consistency check when one fails, even with --timeout 0', async () => {
    // The proof from 150 to 300 reads tile/0/000 and tile/0/001.p/44 in one batch.
    await refusedWhileOneTileHangs('tile/0/001.p/44', 'tile/0/000', [
      '--checkpoint',
      join(dir, 'saved-checkpoint'),
    ]);
    // It stopped there, before the entries.
    expect(server.requests.filter((path) => path.startsWith('tile/entries/'))).toEqual([]);
  });

  describe('a log grown past the checkpoint, its partial tiles deleted (C2SP tlog-tiles allows it)', () => {
    /**
     * The log at 512 entries (the tokens, then entries no audit of 300 reads), serving the
     * checkpoint of 300 while tile/0/001.p/44 and tile/entries/001.p/44 are gone: tile/0/001 and
     * tile/entries/001 hold them. `serve` changes what the server serves beyond that.
     */
    async function auditGrownLog(
      serve: (grown: TestLog) => Record<string, Uint8Array | null> = () => ({}),
    ) {
      const grown = new TestLog('tsa.example.com/log', log.privateKey);
      await grown.append(...tokens.map((t) => t.token));
      const checkpoint = await grown.publish();
      for (let i = 300; i < 512; i++) await grown.append(new TextEncoder().encode(`later ${i}`));
      await grown.publish();
      const grownServer = await startLogServer(grown);
      grownServer.overrides.set('checkpoint', checkpoint);
      grownServer.overrides.set('tile/0/001.p/44', null);
      grownServer.overrides.set('tile/entries/001.p/44', null);
      for (const [path, body] of Object.entries(serve(grown)))
        grownServer.overrides.set(path, body);
      try {
        const stdout = await run(logAuditCommand, [
          grownServer.url,
          '--log-key',
          log.vkey,
          '--chain',
          join(dir, 'chain.pem'),
          '--checkpoint',
          join(dir, 'saved-checkpoint'),
        ]);
        return { stdout, requests: grownServer.requests };
      } finally {
        await grownServer.close();
      }
    }

    it('reads each deleted partial tile from its full tile, for the consistency proof and the entries', async () => {
      const { stdout, requests } = await auditGrownLog();
      expect(stdout).toContain('log tsa.example.com/log: 300 entries');
      expect(stdout).toContain('300 tokens valid (signed under the given chain)');
      expect(stdout).toContain('consistent with the saved checkpoint of size 150');
      expect(requests).toContain('tile/0/001');
      expect(requests).toContain('tile/entries/001');
    });

    it('authenticates what it takes from the full tile', async () => {
      const tampered = (grown: TestLog) => {
        const tile = Buffer.from(grown.tiles.get('tile/0/001')!);
        tile[10 * 32] = tile[10 * 32]! ^ 1; // a hash among the first 44
        return { 'tile/0/001': tile };
      };
      await expect(auditGrownLog(tampered)).rejects.toThrow(
        "the tiles do not hash to the checkpoint's root hash: downloaded inconsistent tile",
      );
    });

    it('names the partial tile the checkpoint needs when its full tile is missing too', async () => {
      await expect(auditGrownLog(() => ({ 'tile/0/001': null }))).rejects.toThrow(
        /\/api\/v1\/log\/tile\/0\/001\.p\/44: HTTP 404 \(as for tile\/0\/001, the full tile that may replace it\)$/,
      );
      await expect(auditGrownLog(() => ({ 'tile/entries/001': null }))).rejects.toThrow(
        /\/api\/v1\/log\/tile\/entries\/001\.p\/44: HTTP 404 \(as for tile\/entries\/001, the full tile that may replace it\)$/,
      );
    });
  });

  it('refuses a tampered partial hash tile, at level 0 and at level 1', async () => {
    for (const path of ['tile/0/001.p/44', 'tile/1/000.p/1']) {
      const tile = Buffer.from(log.tiles.get(path)!);
      tile[tile.length - 1] = tile[tile.length - 1]! ^ 1;
      await refusedWhileServing(
        path,
        tile,
        "the tiles do not hash to the checkpoint's root hash: downloaded inconsistent tile",
      );
    }
  });

  it('refuses two entries swapped in the partial entry bundle', async () => {
    const entries = log.entries.slice(256);
    [entries[10], entries[11]] = [entries[11]!, entries[10]!];
    await refusedWhileServing(
      'tile/entries/001.p/44',
      formatEntryBundle(entries),
      "entry 266 is not the entry the checkpoint's tree holds",
    );
  });

  it('refuses a repeated serial, an entry that is no token, and tokens of another TSA', async () => {
    const audit = async (entries: Uint8Array[], chain?: string): Promise<string> => {
      const other = new TestLog('tsa.example.com/log', log.privateKey);
      await other.append(...entries);
      await other.publish();
      const otherServer = await startLogServer(other);
      try {
        return await run(logAuditCommand, [
          otherServer.url,
          '--log-key',
          other.vkey,
          ...(chain ? ['--chain', chain] : []),
        ]);
      } finally {
        await otherServer.close();
      }
    };
    const few = tokens.slice(0, 5).map((t) => t.token);
    await expect(audit([...few, tokens[2]!.token])).rejects.toThrow(
      'entries 2 and 5 have the same serial number 0x1002',
    );
    await expect(audit([...few, Buffer.from('not a token')])).rejects.toThrow(
      /entry 5 is not a valid token of this TSA: error parsing response/,
    );
    const otherPki = await makePki();
    const foreign = await file('other-chain.pem', otherPki.chainPem);
    await expect(audit(few, foreign)).rejects.toThrow(
      /entry 0 is not a valid token of this TSA: error while verifying signer certificate chain/,
    );
    expect(await audit(few, join(dir, 'chain.pem'))).toContain('5 tokens valid');
  });
});

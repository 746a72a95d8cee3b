import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { issueTokens, startLogServer, type LogServer } from '../../helpers/log-server.js';
import { tempDir } from '../../helpers/openssl.js';
import { makePki } from '../../helpers/pki.js';
import { TestLog } from '../../helpers/tlog-log.js';

/**
 * The built timestamp-cli's log commands, as users run them, against a static log of 20 tokens
 * (test/integration/cli/log-commands.test.ts covers the cases in-process).
 */
describe('timestamp-cli log-proof, verify --log-proof and log-audit (built binary)', () => {
  const dir = tempDir();
  let log: TestLog;
  let server: LogServer;
  const cli = (args: string[]) => runCli(args, { cwd: dir.dir });

  beforeAll(async () => {
    const pki = await makePki();
    const tokens = await issueTokens(pki, 20, 0xab00n);
    log = new TestLog('tsa.example.com/log');
    await log.append(...tokens.slice(0, 10).map((t) => t.token));
    dir.write('saved.txt', await log.publish());
    await log.append(...tokens.slice(10).map((t) => t.token));
    await log.publish();
    server = await startLogServer(log);
    dir.write('chain.pem', pki.chainPem);
    dir.write('artifact', 'artifact 12');
    dir.write('response.tsr', tokens[12]!.response);
    dir.write('log.key', `${log.vkey}\n`);
  });

  afterAll(async () => {
    await server?.close();
    dir.cleanup();
  });

  it('fetches a proof by serial and verifies the token with it', async () => {
    const fetched = await cli([
      '--timestamp_server',
      server.url,
      'log-proof',
      '--serial',
      '0xAB0C',
      '--out',
      'token.tlog-proof',
    ]);
    expect(fetched).toMatchObject({ code: 0, stderr: '' });
    expect(readFileSync(dir.path('token.tlog-proof'), 'utf8')).toBe(await log.proof(12));
    const verified = await cli([
      'verify',
      '--artifact',
      'artifact',
      '--timestamp',
      'response.tsr',
      '--certificate-chain',
      'chain.pem',
      '--log-proof',
      'token.tlog-proof',
      '--log-key',
      'log.key',
    ]);
    expect(verified).toMatchObject({
      code: 0,
      stdout:
        'Successfully verified timestamp response.tsr\nThe token is entry 12 of log tsa.example.com/log (checkpoint of size 20)\n',
    });
    dir.write('other.tlog-proof', await log.proof(3));
    const refused = await cli([
      'verify',
      '--artifact',
      'artifact',
      '--timestamp',
      'response.tsr',
      '--certificate-chain',
      'chain.pem',
      '--log-proof',
      'other.tlog-proof',
      '--log-key',
      log.vkey,
    ]);
    expect(refused).toMatchObject({
      code: 1,
      stderr: 'failed to verify log proof: invalid transparency proof\n',
    });
  });

  it('audits the log and saves its checkpoint', async () => {
    const audited = await cli([
      '--format',
      'json',
      'log-audit',
      server.url,
      '--log-key',
      'log.key',
      '--chain',
      'chain.pem',
      '--checkpoint',
      'saved.txt',
      '--save-checkpoint',
      'next.txt',
    ]);
    expect(audited.code, audited.stderr).toBe(0);
    expect(JSON.parse(audited.stdout)).toMatchObject({
      origin: 'tsa.example.com/log',
      size: 20,
      keyFromServer: false,
      tokensChecked: 'chain',
      consistentWithSize: 10,
    });
    expect(readFileSync(dir.path('next.txt'), 'utf8')).toBe(log.signed);
  });

  it('exits once an audit failed, with --timeout 0, while a tile of the failed batch is never answered', async () => {
    // 300 entries (not tokens: the audit fails before any is checked), for a batch of tiles.
    const wide = new TestLog('tsa.example.com/log');
    for (let i = 0; i < 300; i++) await wide.append(new TextEncoder().encode(`entry ${i}`));
    await wide.publish();
    const wideServer = await startLogServer(wide);
    let hungAsked!: () => void;
    const asked = new Promise<void>((resolve) => (hungAsked = resolve));
    wideServer.overrides.set('tile/0/000', () => hungAsked());
    wideServer.overrides.set('tile/0/001.p/44', (_request, response) => {
      void asked.then(() => response.writeHead(404).end());
    });
    try {
      const audit = await cli([
        '--timeout',
        '0',
        'log-audit',
        wideServer.url,
        '--log-key',
        wide.vkey,
      ]);
      expect(audit).toMatchObject({
        code: 1,
        stderr: `GET ${wideServer.url}/api/v1/log/tile/0/001.p/44: HTTP 404 (as for tile/0/001, the full tile that may replace it)\n`,
      });
    } finally {
      await wideServer.close();
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logAuditCommand } from '../../../src/cli/timestamp-cli/log-audit-command.js';
import type { Output } from '../../../src/cli/timestamp-cli/output.js';
import { startLogServer, type LogServer } from '../../helpers/log-server.js';
import { TestLog } from '../../helpers/tlog-log.js';

/**
 * log-audit's tile checks on a log of three tile levels (65,537 entries: 256 full level-0 tiles
 * and a partial one, a full level-1 tile, a partial level-2 tile), which log-commands.test.ts's
 * 300 tokens do not reach. The entries are not tokens: every check here fails at the first
 * bundle, where the tiles are authenticated against the checkpoint, before any token is read.
 */

const SIZE = 65_537;
let log: TestLog;
let server: LogServer;

beforeAll(async () => {
  log = new TestLog('tsa.example.com/log');
  for (let i = 0; i < SIZE; i++) await log.append(new TextEncoder().encode(`entry ${i}`));
  await log.publish();
  server = await startLogServer(log);
});

afterAll(async () => {
  await server?.close();
});

async function audit(): Promise<string> {
  const output: Output = { stdout: () => undefined, stderr: () => undefined };
  try {
    await logAuditCommand(
      () => ({ timestampServer: server.url, format: 'default', timeout: 30_000 }),
      output,
    )
      .exitOverride()
      .parseAsync([server.url, '--log-key', log.vkey], { from: 'user' });
    return 'passed';
  } catch (error) {
    return (error as Error).message;
  }
}

describe('log-audit of a log with three tile levels', () => {
  it('holds the tiles it expects: the untampered log fails only at its first entry, no token', async () => {
    expect(await audit()).toMatch(/^entry 0 is not a valid token of this TSA: /);
  });

  it.each(['tile/1/000', 'tile/2/000.p/1', 'tile/0/256.p/1', 'tile/0/000'])(
    'refuses %s tampered, at the first bundle',
    async (path) => {
      const tile = Buffer.from(log.tiles.get(path)!);
      // A hash of the tile other than the first bundle's own leaves (except in tile/0/000).
      const at = tile.length > 64 ? 5 * 32 + 7 : tile.length - 1;
      tile[at] = tile[at]! ^ 1;
      server.overrides.set(path, tile);
      server.requests.length = 0;
      try {
        expect(await audit()).toBe(
          "the tiles do not hash to the checkpoint's root hash: downloaded inconsistent tile",
        );
        expect(server.requests.filter((p) => p.startsWith('tile/entries/'))).toEqual([
          'tile/entries/000',
        ]);
      } finally {
        server.overrides.delete(path);
      }
    },
  );

  it('refuses a hash tile of the wrong length', async () => {
    server.overrides.set('tile/1/000', log.tiles.get('tile/1/000')!.subarray(32));
    try {
      expect(await audit()).toBe(
        "the tiles do not hash to the checkpoint's root hash: tile tile/1/000 is 8160 bytes, want 8192",
      );
    } finally {
      server.overrides.delete('tile/1/000');
    }
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { optionsSynchronousCommit, poolConfig, redactUrl } from '../../../src/ledger/connection.js';

const dir = mkdtempSync(join(tmpdir(), 'tsa-ledger-connection-'));
const passwordFile = join(dir, 'pw');
writeFileSync(passwordFile, 'from-the-file\n');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ledger connection settings', () => {
  it('redacts passwords given as query parameters, not only in the userinfo', () => {
    const redacted = redactUrl(
      'postgres://tsa@db:5432/tsa?password=s3cret&sslpassword=k3y&sslmode=require&PassWord=x9',
    );
    expect(redacted).not.toMatch(/s3cret|k3y|x9/);
    expect(redacted).toBe(
      'postgres://tsa@db:5432/tsa?password=***&sslpassword=***&sslmode=require&PassWord=***',
    );
    expect(redactUrl('postgres://tsa:s3cret@db/tsa?password=other')).toBe(
      'postgres://tsa:***@db/tsa?password=***',
    );
    // Encoded names are decoded by pg as by URL: still masked.
    expect(redactUrl('postgres://tsa@db/tsa?pass%77ord=s3cret')).not.toContain('s3cret');
  });

  it('refuses ?password= with --ledger-password-file (pg would take the URL password)', async () => {
    await expect(
      poolConfig('postgres://tsa@db/tsa?password=s3cret', passwordFile, 1),
    ).rejects.toThrow(/either in --ledger-url or in --ledger-password-file/);
    await expect(
      poolConfig('postgres://tsa@db/tsa?password=s3cret', passwordFile, 1),
    ).rejects.not.toThrow(/s3cret/);
    await expect(poolConfig('postgres://tsa:s3cret@db/tsa', passwordFile, 1)).rejects.toThrow(
      /not both/,
    );
  });

  it('waits for an answer a second longer than the statement timeout (57014 comes first)', async () => {
    const config = await poolConfig('postgres://tsa:pw@db/tsa', '', 1);
    expect(config.query_timeout).toBe(Number(config.statement_timeout) + 1_000);
  });

  it('pins READ COMMITTED on every connection, keeping the URL own options', async () => {
    const startup = async (url: string) => {
      const config = await poolConfig(url, '', 1);
      // What pg sends at connection (the URL's parameters override the settings beside it).
      const client = new pg.Client(config) as unknown as {
        getStartupConf(): Record<string, string>;
      };
      return client.getStartupConf();
    };
    expect((await startup('postgres://tsa:pw@db/tsa')).options).toBe(
      '-c default_transaction_isolation=read\\ committed -c synchronous_commit=on',
    );
    const own = await startup(
      'postgres://tsa:pw@db:6432/tsa?sslmode=disable&options=-c%20search_path%3Dtsa&application_name=x',
    );
    expect(own).toMatchObject({
      user: 'tsa',
      database: 'tsa',
      application_name: 'x',
      options:
        '-c search_path=tsa -c default_transaction_isolation=read\\ committed -c synchronous_commit=on',
    });
  });

  it("keeps libpq's PGOPTIONS when the URL has no options (pg would ignore it beside ours)", async () => {
    const config = await poolConfig('postgres://tsa:pw@db/tsa', '', 1, {
      PGOPTIONS: '-c search_path=tsa',
    });
    expect(config.options).toBe(
      '-c search_path=tsa -c default_transaction_isolation=read\\ committed -c synchronous_commit=on',
    );
    const url = await poolConfig('postgres://db/tsa?options=-c%20work_mem%3D8MB', '', 1, {
      PGOPTIONS: '-c search_path=tsa',
    });
    expect(url.options).toBe(
      '-c work_mem=8MB -c default_transaction_isolation=read\\ committed -c synchronous_commit=on',
    );
  });

  it('pins synchronous_commit=on unless the own options choose a level that flushes', async () => {
    const options = async (own: string) =>
      (await poolConfig(`postgres://db/tsa?options=${encodeURIComponent(own)}`, '', 1)).options;
    // Kept: every level but off waits for the local WAL flush.
    for (const own of [
      '-c synchronous_commit=remote_apply',
      '-csynchronous_commit=local',
      '--synchronous-commit=remote_write',
      '-c Synchronous_Commit=ON',
    ]) {
      expect(await options(own)).toBe(`${own} -c default_transaction_isolation=read\\ committed`);
    }
    // Overridden (ours last): off, or an earlier level that a later off replaces.
    for (const own of [
      '-c synchronous_commit=off',
      '-c synchronous_commit=local -c synchronous_commit=OFF',
      '--synchronous_commit=false',
      '-c application_name=synchronous_commit=on',
    ]) {
      expect(await options(own)).toMatch(/ -c synchronous_commit=on$/);
    }
    const env = await poolConfig('postgres://db/tsa', '', 1, {
      PGOPTIONS: '-c synchronous_commit=remote_apply',
    });
    expect(env.options).not.toMatch(/synchronous_commit=on/);
  });

  it('reads options as the server does: escaped whitespace, the last setting wins', () => {
    expect(optionsSynchronousCommit('-c search_path=a\\ b -c synchronous_commit=local')).toBe(
      'local',
    );
    expect(optionsSynchronousCommit('-c x=a\\ -c\\ synchronous_commit=off')).toBeUndefined();
    expect(optionsSynchronousCommit('  -c   synchronous_commit=off  ')).toBe('off');
    expect(optionsSynchronousCommit('-c synchronous_commit')).toBeUndefined();
    expect(optionsSynchronousCommit('')).toBeUndefined();
  });
});

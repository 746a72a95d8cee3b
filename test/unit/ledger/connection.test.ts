import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { poolConfig, redactUrl } from '../../../src/ledger/connection.js';

const dir = mkdtempSync(join(tmpdir(), 'tsa-ledger-connection-'));
const passwordFile = join(dir, 'pw');
writeFileSync(passwordFile, 'from-the-file\n');

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
      '-c default_transaction_isolation=read\\ committed',
    );
    const own = await startup(
      'postgres://tsa:pw@db:6432/tsa?sslmode=disable&options=-c%20search_path%3Dtsa&application_name=x',
    );
    expect(own).toMatchObject({
      user: 'tsa',
      database: 'tsa',
      application_name: 'x',
      options: '-c search_path=tsa -c default_transaction_isolation=read\\ committed',
    });
  });

  it("keeps libpq's PGOPTIONS when the URL has no options (pg would ignore it beside ours)", async () => {
    const config = await poolConfig('postgres://tsa:pw@db/tsa', '', 1, {
      PGOPTIONS: '-c search_path=tsa',
    });
    expect(config.options).toBe(
      '-c search_path=tsa -c default_transaction_isolation=read\\ committed',
    );
    const url = await poolConfig('postgres://db/tsa?options=-c%20work_mem%3D8MB', '', 1, {
      PGOPTIONS: '-c search_path=tsa',
    });
    expect(url.options).toBe('-c work_mem=8MB -c default_transaction_isolation=read\\ committed');
  });
});

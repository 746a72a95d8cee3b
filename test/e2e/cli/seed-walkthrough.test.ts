/**
 * The seed README's "fetch a timestamp with openssl and curl" walkthrough, run verbatim by bash
 * against ./bin/timestamp-server (only the port differs, so parallel runs do not collide).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../helpers/openssl.js';
import { freePort, requireBuild, SERVER_BIN, startProcess } from '../../helpers/process.js';

const run = promisify(execFile);

const WALKTHROUGH = `
set -euo pipefail
curl http://localhost:3000/api/v1/timestamp/certchain > ts_chain.pem
csplit -s -f tmpcert- ts_chain.pem '/-----BEGIN CERTIFICATE-----/' '{*}'
rm tmpcert-00
mv $(ls tmpcert-* | tail -1) root.crt.pem
cat tmpcert-* > chain.crts.pem
rm tmpcert-*
echo "myblob" > myblob
openssl ts -query -data myblob -cert -sha256 -out request.tsq
curl -sSH "Content-Type: application/timestamp-query" --data-binary @request.tsq http://localhost:3000/api/v1/timestamp -o response.tsr
openssl ts -verify -in response.tsr -data "myblob" -CAfile root.crt.pem -untrusted chain.crts.pem
openssl ts -reply -in response.tsr -text
`;

describe('seed README walkthrough', () => {
  let server: Awaited<ReturnType<typeof startProcess>>;
  let port: number;
  const dir = tempDir();

  beforeAll(async () => {
    requireBuild();
    port = await freePort();
    server = await startProcess(
      SERVER_BIN,
      ['serve', '--port', String(port), '--disable-ntp-monitoring'],
      `http://127.0.0.1:${port}/ping`,
    );
  });
  afterAll(async () => {
    await server?.stop();
    dir.cleanup();
  });

  it('curl + csplit + openssl verify the token', async () => {
    const script = WALKTHROUGH.replaceAll('localhost:3000', `localhost:${port}`);
    const { stdout, stderr } = await run('bash', ['-c', script], { cwd: dir.dir });
    expect(stdout + stderr).toMatch(/Verification: OK/);
    expect(stdout).toMatch(/Status: Granted\./);
    expect(stdout).toMatch(/TSA: DirName:\/O=local\/CN=Test TSA Timestamping/);
  });

  it('the JSON request of the README is granted', async () => {
    const request = `{"artifactHash": "${Buffer.alloc(32, 1).toString('base64')}", "certificates": true, "hashAlgorithm": "sha256", "nonce": 1123343434, "tsaPolicyOID": ""}`;
    dir.write('request.json', request);
    await run(
      'bash',
      [
        '-c',
        `curl -sSH "Content-Type: application/json" -d @request.json http://localhost:${port}/api/v1/timestamp -o response.tsr`,
      ],
      { cwd: dir.dir },
    );
    const { stdout } = await run('openssl', [
      'ts',
      '-reply',
      '-in',
      dir.path('response.tsr'),
      '-text',
    ]);
    expect(stdout).toMatch(/Status: Granted\./);
    expect(stdout).toMatch(/Nonce: 0x42F4DC4A/);
  });

  it('timestamp-server version prints the build', async () => {
    const { stdout } = await run(SERVER_BIN, ['version', '--json']);
    expect(JSON.parse(stdout)).toMatchObject({
      gitVersion: expect.any(String),
      nodeVersion: process.version,
    });
  });
});

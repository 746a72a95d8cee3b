/**
 * Tokens accepted by the signing tools users have: the JDK's jarsigner (its own RFC 3161 client and
 * verifier) and osslsigncode (Authenticode with an RFC 3161 countersignature).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import { startServer, type RunningServer } from '../../../src/runtime/serve.js';
import { encodePem } from '../../../src/x509/pem.js';
import { tempDir } from '../../helpers/openssl.js';
import { KEYSTORE_PASS, makeUnsignedJar } from '../../helpers/jar.js';
import { signScriptWithTimestamp, verifySignedScript } from '../../helpers/osslsigncode.js';
import { silentLogger } from '../../helpers/tsa.js';

const run = promisify(execFile);

describe('other RFC 3161 clients', () => {
  let server: RunningServer;
  const dir = tempDir();
  beforeAll(async () => {
    server = await startServer(
      resolveServeConfig({
        port: 0,
        metricsPort: 0,
        disableNtpMonitoring: true,
        includeChainInResponse: true,
      }),
      silentLogger,
    );
    dir.write('root.pem', encodePem('CERTIFICATE', server.chain.at(-1)!.der));
  });
  afterAll(async () => {
    await server.close();
    dir.cleanup();
  });

  it('jarsigner timestamps a jar and verifies the TSA chain to our root', async () => {
    const cwd = dir.dir;
    await makeUnsignedJar(cwd);
    await run(
      'jarsigner',
      [
        '-keystore',
        'ks.p12',
        ...KEYSTORE_PASS,
        '-tsa',
        `${server.url}/api/v1/timestamp`,
        'app.jar',
        'signer',
      ],
      { cwd },
    );
    await run(
      'keytool',
      [
        '-importcert',
        '-noprompt',
        '-alias',
        'tsaroot',
        '-file',
        'root.pem',
        '-keystore',
        'trust.p12',
        '-storetype',
        'PKCS12',
        ...KEYSTORE_PASS,
      ],
      { cwd },
    );
    const { stdout } = await run(
      'jarsigner',
      ['-verify', '-verbose', '-certs', '-keystore', 'trust.p12', ...KEYSTORE_PASS, 'app.jar'],
      { cwd },
    );
    expect(stdout).toMatch(/Timestamped by "CN=Test TSA Timestamping, O=local"/);
    expect(stdout).toMatch(/Timestamp signature algorithm: SHA256withECDSA/);
    expect(stdout).not.toMatch(/Invalid TSA certificate chain/);
    expect(stdout).toMatch(/jar verified\./);
  });

  it('osslsigncode adds an RFC 3161 countersignature that it verifies', async () => {
    await signScriptWithTimestamp(dir, `${server.url}/api/v1/timestamp`);
    const stdout = await verifySignedScript(dir, 'root.pem');
    expect(stdout).toMatch(/Timestamp Server Signature verification: ok/);
    expect(stdout).toMatch(/Signature verification: ok/);
  });
});

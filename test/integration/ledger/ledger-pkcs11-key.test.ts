import { createPublicKey } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import { startServer } from '../../../src/runtime/serve.js';
import { openCheckpoint } from '../../../src/tlog/checkpoint.js';
import { verifierKey } from '../../../src/tlog/note.js';
import { encodeRequest } from '../../helpers/requests.js';
import { startPostgres, type TestPostgres } from '../../helpers/postgres.js';
import { SoftHsm, SOFTHSM_MODULE, TEST_PIN } from '../../helpers/softhsm.js';
import { execFileSync } from 'node:child_process';

// The transparency log's checkpoint key in a PKCS#11 token (SoftHSM2): the server signs its
// checkpoints with CKM_EDDSA, and they open with the verifier key of the token's public key.
let postgres: TestPostgres;
const hsm = new SoftHsm();
const logLines: string[] = [];
const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) });

beforeAll(async () => {
  postgres = await startPostgres();
  await hsm.initToken('log');
  await hsm.keygen('log', 'log-key', 'EC:edwards25519', '0a');
});
afterAll(async () => {
  await postgres?.destroy();
  hsm.cleanup();
});

/** The token's Ed25519 public key, read with pkcs11-tool (not with our code). */
function hsmPublicKey() {
  const pem = execFileSync(
    'pkcs11-tool',
    [
      '--module',
      SOFTHSM_MODULE,
      '--token-label',
      'log',
      '--read-object',
      '--type',
      'pubkey',
      '--id',
      '0a',
    ],
    { env: hsm.env, input: '' },
  );
  return createPublicKey(pem); // pkcs11-tool writes Ed25519 public keys as PEM
}

describe('--ledger-key pkcs11:', () => {
  it('signs checkpoints with the key in the token; the PIN appears in no log line', async () => {
    const origin = 'tsa.example.com/hsm-log';
    const server = await startServer(
      resolveServeConfig({
        port: 0,
        metricsPort: 0,
        disableNtpMonitoring: true,
        ledgerUrl: postgres.urlWithoutPassword,
        ledgerPasswordFile: postgres.passwordFile,
        ledgerKey: hsm.uri('log', 'log-key'),
        ledgerOrigin: origin,
        ledgerCheckpointInterval: '100ms',
        ledgerAnchorInterval: '0s',
      }),
      logger,
    );
    try {
      const issued = await fetch(`${server.url}/api/v1/timestamp`, {
        method: 'POST',
        headers: { 'content-type': 'application/timestamp-query' },
        body: encodeRequest(),
      });
      expect(issued.status).toBe(200);
      const key = await (await fetch(`${server.url}/api/v1/log/key`)).text();
      expect(key.trim()).toBe(verifierKey(origin, hsmPublicKey()));
      let size = 0;
      while (size < 1) {
        const response = await fetch(`${server.url}/api/v1/log/checkpoint`);
        if (response.ok) size = openCheckpoint(await response.text(), key.trim()).checkpoint.size;
        else await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(size).toBeGreaterThanOrEqual(1);
    } finally {
      await server.close();
    }
    expect(logLines.join('')).not.toContain(TEST_PIN);
  });
});

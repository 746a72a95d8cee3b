import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeResponse } from '../../helpers/decode.js';
import { grantableRequest } from '../../helpers/seeds.js';
import { spawnServer, type SpawnedServer } from '../../helpers/spawn-server.js';
import { waitUntil } from '../../helpers/poll.js';

/**
 * Cluster workers get their configuration over IPC: the variables that set the server's options,
 * secrets among them, are not copied into their environment (one more /proc/<pid>/environ each).
 * What the SDKs read at run time, and any other variable, still is.
 */
const SECRET = 'PLANTED_S3CRET_42';

let server: SpawnedServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

interface LogLine {
  message?: string;
  pid?: number;
  worker?: number;
}

describe('--workers 2: the workers environment', () => {
  it('holds no option variable, secret or not, and the workers still sign', async () => {
    server = await spawnServer(['--workers', '2'], {
      FILE_SIGNER_PASSWD: `${SECRET}-passwd`,
      'TINK-HCVAULT-TOKEN': `${SECRET}-token`,
      PKCS11_URI: `pkcs11:token=t;object=o?pin-value=${SECRET}-pin`,
      LOG_LEVEL: 'info',
      VAULT_ADDR: 'http://127.0.0.1:8200',
      TSA_TEST_CONTROL: 'kept',
    });
    const running = server;
    const workerPids = () =>
      running.lines
        .map((line) => JSON.parse(line) as LogLine)
        .filter(
          (line) => line.worker !== undefined && /^worker \d+ serving/.test(line.message ?? ''),
        )
        .map((line) => line.pid as number);
    await waitUntil(() => workerPids().length === 2);

    for (const pid of workerPids()) {
      const environment = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      expect(environment.filter((variable) => variable.includes(SECRET))).toEqual([]);
      expect(environment.filter((variable) => variable.startsWith('LOG_LEVEL='))).toEqual([]);
      // Not an option's: the SDKs' and anyone else's stay.
      expect(environment).toEqual(
        expect.arrayContaining(['VAULT_ADDR=http://127.0.0.1:8200', 'TSA_TEST_CONTROL=kept']),
      );
    }
    const response = await fetch(`${running.url}/api/v1/timestamp`, {
      method: 'POST',
      headers: { 'content-type': 'application/timestamp-query' },
      body: grantableRequest(),
    });
    expect(response.status).toBe(200);
    const decoded = decodeResponse(new Uint8Array(await response.arrayBuffer()));
    expect(decoded.status).toBe(0); // granted
    expect(decoded.tstInfo).toBeDefined();
  });
});

import { generateKeyPairSync } from 'node:crypto';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../helpers/openssl.js';
import { writeChainFor } from '../../helpers/remote-tsa.js';
import {
  fatalMessages,
  REPO_ROOT,
  runCli,
  SERVE_ON_EPHEMERAL_PORTS,
} from '../../helpers/spawn-server.js';

/**
 * A GOOGLE_APPLICATION_CREDENTIALS file that is not JSON (a stray `\q` in private_key): the SDK's
 * JSON.parse error once ended the process as an unhandled rejection, and Node's crash printer
 * showed the line it stopped at, the private key's. Start-up must fail with our line only.
 */
const SECRET = 'PLANTED_S3CRET_42';
const work = tempDir();
let chain: string;
let credentials: string;

beforeAll(async () => {
  ({ chain } = await writeChainFor(
    generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey,
    work,
  ));
  credentials = work.write(
    'credentials.json',
    [
      '{',
      '  "type": "service_account",',
      '  "project_id": "p",',
      `  "private_key": "-----BEGIN PRIVATE KEY-----\\n${SECRET}\\q\\n-----END PRIVATE KEY-----\\n",`,
      '  "client_email": "tsa@p.iam.gserviceaccount.com"',
      '}',
      '',
    ].join('\n'),
  );
});
afterAll(() => work.cleanup());

const tinkKeyset = resolve(
  REPO_ROOT,
  'test/fixtures/tink/generated/tink-java-1.18.0/java_ecdsa_p256.json',
);

describe('a malformed Google credentials file', () => {
  it.each([
    ['kms', ['--kms-key-resource', 'gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k']],
    [
      'tink',
      [
        '--tink-keyset-path',
        tinkKeyset,
        '--tink-key-resource',
        'gcp-kms://projects/p/locations/l/keyRings/r/cryptoKeys/k',
      ],
    ],
  ])(
    '--timestamp-signer %s: exits 1 with one line that quotes nothing of it',
    async (signer, flags) => {
      const run = runCli(
        [
          ...SERVE_ON_EPHEMERAL_PORTS,
          '--timestamp-signer',
          signer,
          ...flags,
          '--certificate-chain-path',
          chain,
        ],
        {
          GOOGLE_APPLICATION_CREDENTIALS: credentials,
          // TLS to a port nothing listens on: the credentials fail first, nothing leaves the host.
          GCP_KMS_ENDPOINT: '127.0.0.1:9',
          HOME: work.path('home'),
        },
      );
      expect(await run.exited).toBe(1);
      const output = run.stdout() + run.stderr();
      expect(output).not.toContain(SECRET);
      expect(output).not.toContain('private_key');
      expect(run.stderr()).toBe('');
      expect(fatalMessages(run.stdout())).toEqual([
        'cannot start: cannot load Google credentials (SyntaxError): check GOOGLE_APPLICATION_CREDENTIALS or the Application Default Credentials',
      ]);
    },
  );
});

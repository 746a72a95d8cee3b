import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import { createAuthority } from '../../../src/runtime/serve.js';
import { startFakeAwsKmsForSdk, type FakeAwsKms } from '../../helpers/fake-aws-kms.js';
import { tempDir } from '../../helpers/openssl.js';
import { UNTIL_SETTLED } from '../../helpers/poll.js';
import { writeChainFor } from '../../helpers/remote-tsa.js';
import { silentLogger } from '../../helpers/tsa.js';

let fake: FakeAwsKms;
const dir = tempDir();

beforeAll(async () => {
  fake = await startFakeAwsKmsForSdk();
  // Idle keep-alive connections stay until the client closes them.
  fake.server.keepAliveTimeout = 600_000;
});
afterAll(async () => {
  await fake.close();
  dir.cleanup();
});

const openConnections = () =>
  new Promise<number>((resolve, reject) =>
    fake.server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
  );

describe('a signer refused at start-up', () => {
  it('is released: its KMS client closes its connections when the chain is not its key', async () => {
    const key = fake.createKey('ec-p256');
    const other = fake.createKey('ec-p256');
    const paths = await writeChainFor(other.key.publicKey!, dir);
    const config = resolveServeConfig({
      timestampSigner: 'kms',
      kmsKeyResource: `awskms:///${key.arn}`,
      certificateChainPath: paths.chain,
    });
    await expect(createAuthority(config, silentLogger)).rejects.toThrow(/key/i);
    // Closed in the background once refused: waited for however slow the machine is.
    await expect.poll(openConnections, UNTIL_SETTLED).toBe(0);
  });
});

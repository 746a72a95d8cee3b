import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../helpers/openssl.js';
import { EXT, OpensslPki, privateKeyUsagePeriodExt } from '../../helpers/openssl-pki.js';
import {
  fatalMessages,
  runCli,
  SERVE_ON_EPHEMERAL_PORTS,
  spawnServer,
} from '../../helpers/spawn-server.js';

/**
 * A TSA leaf that RFC 3161 section 2.3 or OpenSSL's time-stamp purpose forbids, or whose private
 * key usage period has ended, stops the real `timestamp-server serve` (file signer, default
 * flags). Go starts with each: with the first kind it issues tokens that neither `openssl ts
 * -verify` nor `timestamp-cli verify` accept, with the last it signs with a key past its period.
 * Each leaf certifies the same P-256 key, issued by the standard intermediate.
 */
const work = tempDir();
const pki = new OpensslPki(work.dir);

async function chainFor(name: string, ext: string): Promise<string> {
  await pki.cert(name, {
    subject: `/O=test/CN=${name}`,
    ext,
    issuer: 'intermediate',
    csrKey: 'leaf',
  });
  return pki.chain(`${name}-chain.pem`, name, 'intermediate', 'root');
}

const KEY_USAGE_RULE =
  'it must allow digitalSignature or nonRepudiation and nothing else, or be absent ' +
  '(openssl ts -verify refuses the tokens of any other: unsuitable certificate purpose)';

const fileSigner = (chain: string) => [
  '--timestamp-signer',
  'file',
  '--file-signer-key-path',
  pki.path('leaf.key'),
  '--certificate-chain-path',
  chain,
];

beforeAll(async () => {
  await pki.standardChain();
});
afterAll(() => work.cleanup());

describe('timestamp-server serve refuses a TSA leaf whose tokens would not verify', () => {
  it.each([
    {
      name: 'any-eku',
      what: 'EKU critical anyExtendedKeyUsage (only)',
      ext: EXT.leaf.replace('critical,timeStamping', 'critical,anyExtendedKeyUsage'),
      fatal:
        "cannot start: the TSA certificate's extended key usage must be id-kp-timeStamping (RFC 3161 section 2.3), not anyExtendedKeyUsage",
    },
    {
      name: 'key-encipherment',
      what: 'keyUsage keyEncipherment',
      ext: EXT.leaf.replace('critical,digitalSignature', 'critical,keyEncipherment'),
      fatal: `cannot start: the TSA certificate's keyUsage allows keyEncipherment: ${KEY_USAGE_RULE}`,
    },
    {
      name: 'cert-sign',
      what: 'keyUsage digitalSignature and keyCertSign',
      ext: EXT.leaf.replace('critical,digitalSignature', 'critical,digitalSignature,keyCertSign'),
      fatal: `cannot start: the TSA certificate's keyUsage allows digitalSignature, keyCertSign: ${KEY_USAGE_RULE}`,
    },
  ])('$what: exit 1 with one line', async ({ name, ext, fatal }) => {
    const chain = await chainFor(name, ext);
    const run = runCli([...SERVE_ON_EPHEMERAL_PORTS, ...fileSigner(chain)]);
    // A server that starts is a failure now, not a hang until the test's timeout.
    const started = new Promise<'started'>((resolveStarted) =>
      run.child.stdout.on('data', () => {
        if (run.stdout().includes('serving timestamps on ')) resolveStarted('started');
      }),
    );
    const outcome = await Promise.race([run.exited, started]);
    if (outcome === 'started') run.child.kill('SIGTERM');
    expect(outcome).toBe(1);
    expect(fatalMessages(run.stdout())).toEqual([fatal]);
  });

  it('a leaf whose private key usage period has ended: exit 1 with one line', async () => {
    const ended = new Date(Math.floor(Date.now() / 1000) * 1000 - 3_600_000);
    const chain = await chainFor(
      'key-usage-period-ended',
      `${EXT.leaf}\n${privateKeyUsagePeriodExt({ notAfter: ended })}`,
    );
    const run = runCli([...SERVE_ON_EPHEMERAL_PORTS, ...fileSigner(chain)]);
    expect(await run.exited).toBe(1);
    const rfc3339 = ended.toISOString().replace('.000Z', 'Z');
    expect(fatalMessages(run.stdout())).toEqual([
      expect.stringMatching(
        new RegExp(
          `^cannot start: the TSA certificate's private key usage period ended at ${rfc3339}, before the current time \\S+Z: its key may sign no more \\(start with its successor's key and certificate\\)$`,
        ),
      ),
    ]);
  });

  it('a leaf without keyUsage starts, as openssl accepts its tokens', async () => {
    const chain = await chainFor(
      'no-key-usage',
      EXT.leaf.replace('keyUsage=critical,digitalSignature\n', ''),
    );
    const server = await spawnServer(fileSigner(chain));
    expect(await server.stop()).toBe(0);
  });
});

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyCommand } from '../../../src/cli/timestamp-cli/verify-command.js';
import { parseTimestampResponse } from '../../../src/verify/parse-response.js';
import { issueToken, makePki } from '../../helpers/pki.js';
import { TestLog } from '../../helpers/tlog-log.js';

let dir: string;
/** verify's arguments for a token logged as entry 0 of a log named 'tsa\u009b1m.example/log'. */
let args: string[];
/** The log's verifier key. */
let key: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'verify-log-proof-'));
  const pki = await makePki();
  const artifact = Buffer.from('artifact');
  const response = await issueToken(pki, { artifact });
  // A note refuses C0 controls in a key name, not C1 ones (U+009B is a CSI to some terminals).
  const log = new TestLog('tsa\u009b1m.example/log');
  await log.append(parseTimestampResponse(response).timestamp.tokenDer);
  await log.publish();
  key = log.vkey;
  const file = async (name: string, data: string | Uint8Array) => {
    await writeFile(join(dir, name), data);
    return join(dir, name);
  };
  args = [
    '--artifact',
    await file('artifact', artifact),
    '--timestamp',
    await file('response.tsr', response),
    '--certificate-chain',
    await file('chain.pem', pki.chainPem),
    '--log-proof',
    await file('entry.tlog-proof', await log.proof(0)),
    '--log-key',
    log.vkey,
  ];
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs `verify` with `argv`; resolves with what it printed. */
async function verifyWith(argv: string[], format: 'default' | 'json' = 'default'): Promise<string> {
  let stdout = '';
  await verifyCommand(() => ({ timestampServer: 'http://127.0.0.1', format, timeout: 0 }), {
    stdout: (text) => (stdout += text),
    stderr: () => undefined,
  })
    .exitOverride()
    .parseAsync(argv, { from: 'user' });
  return stdout;
}

async function verify(format: 'default' | 'json', extra: string[] = []): Promise<string> {
  return verifyWith([...args, ...extra], format);
}

describe('timestamp-cli verify --log-proof', () => {
  it("escapes control characters of the log's origin (the key's name), as log-audit does", async () => {
    const text = await verify('default');
    // eslint-disable-next-line no-control-regex
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(text).toContain(
      'The token is entry 0 of log tsa\\x9b1m.example/log (checkpoint of size 1)',
    );
    const json = await verify('json');
    // eslint-disable-next-line no-control-regex
    expect(json).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(JSON.parse(json)).toMatchObject({
      LogProof: { Index: 0, Origin: 'tsa\u009b1m.example/log', TreeSize: 1 },
    });
  });

  it('stops reading --log-proof and a --log-key file at 1 MiB', async () => {
    // /dev/zero as a --log-proof grew to 620 MB; a key file was read whole, synchronously.
    const big = join(dir, 'big.key');
    await writeFile(big, Buffer.alloc((1 << 20) + 1, 0x61));
    for (const [flag, file] of [
      ['--log-proof', '/dev/zero'],
      ['--log-key', big],
    ] as const) {
      const swapped = [...args];
      swapped[args.indexOf(flag) + 1] = file;
      await expect(verifyWith(swapped)).rejects.toThrow(
        `error reading ${flag} ${file}: the file is larger than 1048576 bytes (1 MiB), the most accepted`,
      );
    }
  });

  it('reads the key from a --log-key file', async () => {
    const file = join(dir, 'log.key');
    await writeFile(file, `${key}\n`);
    const swapped = [...args];
    swapped[args.indexOf('--log-key') + 1] = file;
    expect(await verifyWith(swapped)).toContain('The token is entry 0 of log');
    await writeFile(file, 'not a key\n');
    await expect(verifyWith(swapped)).rejects.toThrow(
      `--log-key ${file} does not hold a log verifier key (origin+keyid+base64): `,
    );
  });
});

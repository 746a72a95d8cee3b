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

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'verify-log-proof-'));
  const pki = await makePki();
  const artifact = Buffer.from('artifact');
  const response = await issueToken(pki, { artifact });
  // A note refuses C0 controls in a key name, not C1 ones (U+009B is a CSI to some terminals).
  const log = new TestLog('tsa\u009b1m.example/log');
  await log.append(parseTimestampResponse(response).timestamp.tokenDer);
  await log.publish();
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

async function verify(format: 'default' | 'json', extra: string[] = []): Promise<string> {
  let stdout = '';
  await verifyCommand(() => ({ timestampServer: 'http://127.0.0.1', format, timeout: 0 }), {
    stdout: (text) => (stdout += text),
    stderr: () => undefined,
  })
    .exitOverride()
    .parseAsync([...args, ...extra], { from: 'user' });
  return stdout;
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
});

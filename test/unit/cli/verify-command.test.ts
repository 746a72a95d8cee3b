import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliError } from '../../../src/cli/timestamp-cli/output.js';
import { verifyCommand } from '../../../src/cli/timestamp-cli/verify-command.js';
import { tempDir } from '../../helpers/openssl.js';
import { makePki } from '../../helpers/pki.js';

const dir = tempDir();
afterAll(() => dir.cleanup());

/** The error `verify` ends with. */
async function verifyError(args: string[]): Promise<unknown> {
  const command = verifyCommand(
    () => ({ timestampServer: 'http://127.0.0.1', format: 'default', timeout: 0 }),
    { stdout: () => {}, stderr: () => {} },
  ).exitOverride();
  return command.parseAsync(args, { from: 'user' }).then(
    () => undefined,
    (caught: unknown) => caught,
  );
}

/** The arguments before the PEM flags: files that are not read before the PEM files are. */
const base = () => [
  '--artifact',
  dir.write('artifact', 'a'),
  '--timestamp',
  dir.write('response.tsr', 'not read before the PEM files'),
];
// A real certificate: the PEM files are read strictly, each block must be one.
let chainPem = '';
beforeAll(async () => {
  chainPem = (await makePki()).chainPem;
});
const chain = () => dir.write('chain.pem', chainPem);

describe('timestamp-cli verify: a PEM file it cannot use', () => {
  const invalid = () => dir.write('invalid.pem', 'invalid PEM');

  it.each([
    [
      '--certificate-chain',
      (file: string) => ['--certificate-chain', file],
      'intermediate and root certs',
    ],
    ['--root-certificates', (file: string) => ['--root-certificates', file], 'root certs'],
    [
      '--intermediate-certificates',
      (file: string) => ['--root-certificates', chain(), '--intermediate-certificates', file],
      'intermediate certs',
    ],
    [
      '--certificate',
      (file: string) => ['--certificate-chain', chain(), '--certificate', file],
      'the TSA certificate',
    ],
  ])('names %s, the file and why', async (flag, args, what) => {
    const file = invalid();
    const error = await verifyError([...base(), ...args(file)]);
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).code).toBe('INVALID_PEM');
    expect((error as CliError).message).toBe(
      `failed to parse ${what} from PEM file ${file} (${flag}): no certificates found in PEM`,
    );
  });
});

describe('timestamp-cli verify: a file too large or unreadable', () => {
  // An endless device read whole grew to 620 MB before failing 'Invalid string length'.
  it.each([
    ['--certificate-chain', (file: string) => ['--certificate-chain', file], 1],
    ['--root-certificates', (file: string) => ['--root-certificates', file], 1],
    [
      '--intermediate-certificates',
      (file: string) => ['--root-certificates', chain(), '--intermediate-certificates', file],
      1,
    ],
    ['--certificate', (file: string) => ['--certificate-chain', chain(), '--certificate', file], 1],
    ['--trusted-root', (file: string) => ['--trusted-root', file], 4],
  ])('stops reading %s at its cap, naming the flag and the file', async (flag, args, mib) => {
    const error = await verifyError([...base(), ...args('/dev/zero')]);
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).code).toBe('FILE');
    expect((error as CliError).message).toBe(
      `error reading ${flag} /dev/zero: the file is larger than ${mib << 20} bytes (${mib} MiB), the most accepted`,
    );
  });

  it('names the flag and the file it cannot read', async () => {
    const error = await verifyError([...base(), '--certificate-chain', dir.dir]);
    expect((error as CliError).message).toBe(
      `error reading --certificate-chain ${dir.dir}: EISDIR: illegal operation on a directory`,
    );
  });
});

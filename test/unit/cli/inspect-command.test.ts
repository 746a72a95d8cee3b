import { describe, expect, it } from 'vitest';
import { inspectCommand } from '../../../src/cli/timestamp-cli/inspect-command.js';
import { verifyCommand } from '../../../src/cli/timestamp-cli/verify-command.js';
import { CliError } from '../../../src/cli/timestamp-cli/output.js';
import { tempDir } from '../../helpers/openssl.js';

async function inspect(path: string): Promise<unknown> {
  const command = inspectCommand(
    () => ({ timestampServer: 'http://127.0.0.1', format: 'default', timeout: 0 }),
    { stdout: () => {}, stderr: () => {} },
  ).exitOverride();
  try {
    await command.parseAsync(['--timestamp', path], { from: 'user' });
  } catch (error) {
    return error;
  }
  throw new Error('inspect unexpectedly succeeded');
}

describe('timestamp-cli inspect on hostile files', () => {
  it('refuses a file over 1 MiB without reading it whole', async () => {
    const dir = tempDir();
    try {
      const path = dir.write('big.tsr', Buffer.alloc((1 << 20) + 1, 0x30));
      const error = await inspect(path);
      expect(error).toBeInstanceOf(CliError);
      expect((error as CliError).code).toBe('INVALID_RESPONSE');
      expect((error as CliError).message).toBe(
        `error reading ${path}: the file is larger than 1048576 bytes (1 MiB), the most accepted`,
      );
    } finally {
      dir.cleanup();
    }
  });

  it('stops reading an endless device (/dev/zero) at the cap', async () => {
    const error = await inspect('/dev/zero');
    expect((error as CliError).message).toMatch(/^error reading \/dev\/zero: the file is larger/);
  });

  it('reports garbage as an invalid response, not a crash', async () => {
    const dir = tempDir();
    try {
      const error = await inspect(dir.write('garbage.tsr', Buffer.from([0x30, 0x84, 0xff])));
      expect(error).toBeInstanceOf(CliError);
      expect((error as CliError).code).toBe('INVALID_RESPONSE');
    } finally {
      dir.cleanup();
    }
  });
});

describe('timestamp-cli verify on hostile files', () => {
  it('refuses a --timestamp file over 1 MiB without reading it whole', async () => {
    const command = verifyCommand(
      () => ({ timestampServer: 'http://127.0.0.1', format: 'default', timeout: 0 }),
      { stdout: () => {}, stderr: () => {} },
    ).exitOverride();
    const dir = tempDir();
    try {
      const artifact = dir.write('artifact', 'hello');
      const chain = dir.write('chain.pem', '');
      const error = await command
        .parseAsync(
          ['--timestamp', '/dev/zero', '--artifact', artifact, '--certificate-chain', chain],
          { from: 'user' },
        )
        .then(
          () => undefined,
          (caught: unknown) => caught,
        );
      expect(error).toBeInstanceOf(CliError);
      expect((error as CliError).message).toBe(
        'error reading /dev/zero: the file is larger than 1048576 bytes (1 MiB), the most accepted',
      );
    } finally {
      dir.cleanup();
    }
  });
});

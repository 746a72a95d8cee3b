import { describe, expect, it } from 'vitest';
import { errorLine, EXIT_STATUS, exitStatusOf } from '../../../src/cli/exit-status.js';
import { CliError } from '../../../src/cli/timestamp-cli/output.js';
import { ConfigError } from '../../../src/config/config-error.js';
import { DurationError } from '../../../src/config/duration.js';
import { SignerError } from '../../../src/signers/signer-error.js';
import { VerificationError } from '../../../src/verify/errors.js';

describe('exit status of the error that ends a command', () => {
  it('is 2 for a configuration refused before start-up', () => {
    for (const code of ['INVALID_VALUE', 'CONFLICTING_OPTIONS', 'FILE_NOT_FOUND'] as const) {
      expect(exitStatusOf(new ConfigError(code, 'refused'))).toBe(2);
    }
    expect(EXIT_STATUS.config).toBe(2);
  });

  it('is 2 for a secret given both inline and as a file, a configuration error', () => {
    expect(exitStatusOf(new ConfigError('SECRET_CONFLICT', 'set only one of'))).toBe(2);
  });

  it('is 1 for a secret found unreadable when the signer starts, as any start-up failure', () => {
    expect(exitStatusOf(new ConfigError('SECRET_UNREADABLE', 'reading --x-file'))).toBe(1);
    expect(exitStatusOf(new SignerError('KEY_UNREADABLE', 'cannot read'))).toBe(1);
  });

  it("is 1 for timestamp-cli's failures, and for anything without an entry", () => {
    expect(exitStatusOf(new CliError('VERIFICATION_FAILED', 'failed to verify'))).toBe(1);
    expect(exitStatusOf(new CliError('USAGE', 'flags'))).toBe(1);
    expect(exitStatusOf(new VerificationError('nonce', 'nonce'))).toBe(1);
    expect(exitStatusOf(new DurationError('30', 'missing unit'))).toBe(1);
    expect(exitStatusOf('a string')).toBe(1);
    expect(exitStatusOf(undefined)).toBe(1);
  });
});

describe('the line printed for it', () => {
  it('is the message alone, without name, code or stack', () => {
    const error = new SignerError('DECRYPTION_FAILED', 'decryption failed (wrong password?)', {
      cause: new Error('bad decrypt'),
    });
    expect(errorLine(error)).toBe('decryption failed (wrong password?)');
    expect(errorLine('plain text')).toBe('plain text');
  });
});

import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The keystore password options of every keytool/jarsigner call on {@link makeUnsignedJar}'s files. */
export const KEYSTORE_PASS = ['-storepass', 'changeit'];

/**
 * In `cwd`: a PKCS#12 keystore `ks.p12` with an EC P-256 code-signing key under alias `signer`, and
 * an unsigned `app.jar` holding one file, ready for `jarsigner -tsa`.
 */
export async function makeUnsignedJar(cwd: string): Promise<void> {
  await run(
    'keytool',
    [
      '-genkeypair',
      '-alias',
      'signer',
      '-keyalg',
      'EC',
      '-groupname',
      'secp256r1',
      '-keystore',
      'ks.p12',
      '-storetype',
      'PKCS12',
      ...KEYSTORE_PASS,
      '-dname',
      'CN=Jar Signer',
      '-validity',
      '30',
    ],
    { cwd },
  );
  writeFileSync(join(cwd, 'a.txt'), 'hello\n');
  await run('jar', ['cf', 'app.jar', 'a.txt'], { cwd });
}

import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { tempDir } from './openssl.js';
import { childEnvironment } from './process.js';

const run = promisify(execFile);

/** Debian's SoftHSM2 module (scripts/install-test-deps.sh installs softhsm2 and opensc). */
export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

/**
 * OpenSC's pkcs11-spy (package opensc-pkcs11, beside pkcs11-tool): a real PKCS#11 module that logs
 * every call to $PKCS11SPY_OUTPUT, with its answer, and forwards it to the module in $PKCS11SPY.
 */
export const PKCS11_SPY_MODULE = `/usr/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu/pkcs11/pkcs11-spy.so`;

export const TEST_PIN = '7291-test-pin';
const SO_PIN = '5678-so-pin';

/** What `pkcs11-tool --keypairgen --key-type` takes. */
export type HsmKeyType =
  'EC:prime256v1' | 'EC:secp384r1' | 'EC:secp521r1' | 'rsa:3072' | 'rsa:2048' | 'EC:edwards25519';

/**
 * A SoftHSM2 whose token directory is a temporary folder: SOFTHSM2_CONF points at its own
 * configuration, set in this process's environment (SoftHSM reads it at C_Initialize) and passed
 * to the tools and servers the test starts (`env`). `cleanup()` removes it all.
 */
export class SoftHsm {
  readonly dir = tempDir();
  readonly tokens = this.dir.path('tokens');
  readonly conf = this.dir.path('softhsm2.conf');
  /** The PIN as a file, for pin-source=file:… (mode 0600). */
  readonly pinFile = this.dir.path('pin');

  constructor() {
    mkdirSync(this.tokens);
    writeFileSync(
      this.conf,
      `directories.tokendir = ${this.tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`,
    );
    writeFileSync(this.pinFile, `${TEST_PIN}\n`, { mode: 0o600 });
    process.env['SOFTHSM2_CONF'] = this.conf;
  }

  /** For a tool or server that opens the token: childEnvironment() with SOFTHSM2_CONF. */
  get env(): NodeJS.ProcessEnv {
    return childEnvironment({ SOFTHSM2_CONF: this.conf });
  }

  async initToken(label: string): Promise<void> {
    await run(
      'softhsm2-util',
      ['--init-token', '--free', '--label', label, '--pin', TEST_PIN, '--so-pin', SO_PIN],
      { env: this.env },
    );
  }

  /** A key pair made in the token (the private key never leaves it), labelled and with an id. */
  async keygen(token: string, label: string, type: HsmKeyType, idHex: string): Promise<void> {
    await run(
      'pkcs11-tool',
      [
        '--module',
        SOFTHSM_MODULE,
        '--token-label',
        token,
        '--login',
        '--pin',
        TEST_PIN,
        '--keypairgen',
        '--key-type',
        type,
        '--label',
        label,
        '--id',
        idHex,
      ],
      { env: this.env },
    );
  }

  /** Deletes a key pair (its private and public key objects) from the token, as an HSM administrator might. */
  async deleteKeyPair(token: string, label: string): Promise<void> {
    for (const type of ['privkey', 'pubkey']) {
      await run(
        'pkcs11-tool',
        [
          ...['--module', SOFTHSM_MODULE, '--token-label', token, '--login', '--pin', TEST_PIN],
          ...['--delete-object', '--type', type, '--label', label],
        ],
        { env: this.env },
      );
    }
  }

  /** Changes the user PIN on the token, as an HSM administrator would. */
  async changePin(token: string, from: string, to: string): Promise<void> {
    await run(
      'pkcs11-tool',
      [
        ...['--module', SOFTHSM_MODULE, '--token-label', token, '--login', '--pin', from],
        ...['--change-pin', '--new-pin', to],
      ],
      { env: this.env },
    );
  }

  /** The key's URI, with the PIN read from `pinFile`. */
  uri(token: string, object: string, query = ''): string {
    return `pkcs11:token=${encodeURIComponent(token)};object=${encodeURIComponent(object)}?module-path=${SOFTHSM_MODULE}&pin-source=file:${this.pinFile}${query}`;
  }

  cleanup(): void {
    this.dir.cleanup();
  }
}

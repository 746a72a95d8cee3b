/**
 * The URI's slot and library attributes (RFC 7512) select, on the real SoftHSM2: a slot whose
 * CK_SLOT_INFO, or a module whose CK_INFO, does not hold the value given (blank padding aside)
 * is not the key's, so a URI written for another HSM does not open this one's key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadInHost } from '../../../../src/signers/pkcs11/pkcs11-module.js';
import { CKF_OS_LOCKING_OK } from '../../../../src/signers/pkcs11/pkcs11-constants.js';
import { createPkcs11Signer } from '../../../../src/signers/pkcs11/pkcs11-signer.js';
import { SOFTHSM_MODULE, SoftHsm } from '../../../helpers/softhsm.js';

const hsm = new SoftHsm();
/** What the module says of itself and of the token's slot, blank padding removed. */
const actual = {
  slotDescription: '',
  slotManufacturer: '',
  libraryManufacturer: '',
  libraryDescription: '',
  libraryVersion: { major: 0, minor: 0 },
};

beforeAll(async () => {
  await hsm.initToken('tsa');
  await hsm.keygen('tsa', 'tsa-key', 'EC:prime256v1', '01');
  const host = await loadInHost(SOFTHSM_MODULE, { stuckAfterMs: 60_000, onStopped: () => {} });
  try {
    await host.C_Initialize({ flags: CKF_OS_LOCKING_OK });
    const info = await host.C_GetInfo();
    actual.libraryManufacturer = info.manufacturerID.trimEnd();
    actual.libraryDescription = info.libraryDescription.trimEnd();
    actual.libraryVersion = info.libraryVersion;
    const slots = await host.C_GetSlotList(true);
    let found = 0;
    for (const slot of slots) {
      if ((await host.C_GetTokenInfo(slot)).label.trimEnd() !== 'tsa') continue;
      const slotInfo = await host.C_GetSlotInfo(slot);
      actual.slotDescription = slotInfo.slotDescription.trimEnd();
      actual.slotManufacturer = slotInfo.manufacturerID.trimEnd();
      found++;
    }
    expect(found).toBe(1);
    await host.C_Finalize();
  } finally {
    host.stop();
  }
});
afterAll(() => hsm.cleanup());

/** The key's URI with `path` (name=value, not yet encoded) added to its path. */
function uriWith(name: string, value: string): string {
  return hsm.uri('tsa', 'tsa-key').replace('?', `;${name}=${encodeURIComponent(value)}?`);
}

async function opens(uri: string): Promise<string> {
  try {
    const signer = await createPkcs11Signer(uri, 'auto');
    await signer[Symbol.asyncDispose]();
    return 'opened';
  } catch (error) {
    return (error as { code: string }).code;
  }
}

describe('slot and library attributes of a pkcs11: URI', () => {
  /** Values close to the module's that are not it: one character more, one less. */
  const near = (value: string) => [`${value}x`, value.slice(0, -1)];
  it.each([
    ['slot-description', () => actual.slotDescription, near],
    ['slot-manufacturer', () => actual.slotManufacturer, near],
    ['library-manufacturer', () => actual.libraryManufacturer, near],
    ['library-description', () => actual.libraryDescription, near],
    [
      'library-version',
      () => `${actual.libraryVersion.major}.${actual.libraryVersion.minor}`,
      () => {
        const { major, minor } = actual.libraryVersion;
        return [`${major}.${minor + 1}`, `${major + 1}.${minor}`];
      },
    ],
  ])(
    '%s: the value the module gives selects the key; another does not',
    async (name, value, others) => {
      expect(value()).not.toBe('');
      expect(await opens(uriWith(name, value()))).toBe('opened');
      for (const other of others(value())) {
        expect(await opens(uriWith(name, other))).toBe('TOKEN_NOT_FOUND');
      }
    },
  );

  it('a URI without token attributes finds the one initialized token, not also the blank spare slot', async () => {
    // SoftHSM2 always shows one more slot, with a token that is not initialized.
    const host = await loadInHost(SOFTHSM_MODULE, { stuckAfterMs: 60_000, onStopped: () => {} });
    try {
      await host.C_Initialize({ flags: CKF_OS_LOCKING_OK });
      expect((await host.C_GetSlotList(true)).length).toBe(2);
      await host.C_Finalize();
    } finally {
      host.stop();
    }
    expect(await opens(hsm.uri('tsa', 'tsa-key').replace('token=tsa;', ''))).toBe('opened');
  });

  it('library-version M is M.0', async () => {
    const { major, minor } = actual.libraryVersion;
    expect(minor).not.toBe(0); // SoftHSM 2.6 or so: M alone names another version
    expect(await opens(uriWith('library-version', `${major}`))).toBe('TOKEN_NOT_FOUND');
    expect(await opens(uriWith('library-version', `${major}.${minor + 1}`))).toBe(
      'TOKEN_NOT_FOUND',
    );
  });

  it("a URI written for another HSM does not open this one's key, and says which attribute differs", async () => {
    const uri = hsm
      .uri('tsa', 'tsa-key')
      .replace('?', ';slot-description=NoSuchSlot;library-manufacturer=Thales?');
    await expect(createPkcs11Signer(uri, 'auto')).rejects.toThrow(
      `pkcs11:token=tsa;object=tsa-key;slot-description=NoSuchSlot;library-manufacturer=Thales: the module ${SOFTHSM_MODULE} does not match library-manufacturer (the module's is "${actual.libraryManufacturer}")`,
    );
    const slotOnly = hsm.uri('tsa', 'tsa-key').replace('?', ';slot-description=NoSuchSlot?');
    await expect(createPkcs11Signer(slotOnly, 'auto')).rejects.toThrow(
      'pkcs11:token=tsa;object=tsa-key;slot-description=NoSuchSlot: no token matches',
    );
  });
});

import {
  CKA,
  CKF_LOGIN_REQUIRED,
  CKF_TOKEN_INITIALIZED,
  CKK,
  CKO_PRIVATE_KEY,
  CKO_PUBLIC_KEY,
} from './pkcs11-constants.js';
import { Pkcs11Error } from './pkcs11-error.js';
import type { KeyAttributes } from './pkcs11-key.js';
import { errorName, type Handle, type LoadedModule } from './pkcs11-module.js';
import type { Pkcs11Uri } from './pkcs11-uri.js';

/**
 * Finds what a `pkcs11:` URI names in the module: the token's slot (by the URI's token, slot and
 * library attributes), the private key, and the key's public parts. Module calls are made through
 * the signer's `answered` (their deadline) and errors named by its `wrap`.
 */
export class TokenDiscovery {
  constructor(
    private readonly module: LoadedModule,
    private readonly uri: Pkcs11Uri,
    private readonly id: string,
    private readonly answered: <T>(call: Promise<T>, name: string) => Promise<T>,
    private readonly wrap: (error: unknown, name?: string) => Pkcs11Error,
  ) {}

  /**
   * The slot whose token matches the URI's token attributes, slot-id and slot attributes, in a
   * module that matches its library attributes.
   */
  async findSlot(): Promise<Handle> {
    const { calls } = this.module;
    const { token, manufacturer, model, serial, slotId } = this.uri;
    await this.checkLibrary();
    let slots: Handle[];
    try {
      slots = await this.answered(calls.C_GetSlotList(true), 'C_GetSlotList');
    } catch (error) {
      throw this.wrap(error, 'C_GetSlotList');
    }
    const matchesUri = async (slot: Handle): Promise<boolean> => {
      if (slotId !== undefined && slotNumber(slot) !== slotId) return false;
      if (!(await this.slotMatches(slot))) return false;
      let info;
      try {
        info = await this.answered(calls.C_GetTokenInfo(slot), 'C_GetTokenInfo');
      } catch (error) {
        if (error instanceof Pkcs11Error) throw error; // not answered
        // A slot whose token went or is not one: not this one. Anything else (the HSM gone, the
        // module's process dead) is no answer about the token: a token gone, not a token missing.
        if (NO_TOKEN_IN_SLOT.has(errorName(error))) return false;
        throw this.wrap(error, 'C_GetTokenInfo');
      }
      // A token not initialized (SoftHSM's spare slot, an HSM's blank partition) holds no key:
      // with it, a URI without token attributes would match two tokens where one is in use.
      if ((info.flags & CKF_TOKEN_INITIALIZED) === 0) return false;
      return (
        (token === undefined || info.label.trimEnd() === token) &&
        (manufacturer === undefined || info.manufacturerID.trimEnd() === manufacturer) &&
        (model === undefined || info.model.trimEnd() === model) &&
        (serial === undefined || info.serialNumber.trimEnd() === serial)
      );
    };
    const matches: Handle[] = [];
    for (const slot of slots) if (await matchesUri(slot)) matches.push(slot);
    const [slot] = matches;
    if (!slot) {
      throw new Pkcs11Error(
        'TOKEN_NOT_FOUND',
        `${this.id}: no token matches (${slots.length} token${slots.length === 1 ? '' : 's'} present)`,
      );
    }
    if (matches.length > 1) {
      throw new Pkcs11Error(
        'TOKEN_NOT_FOUND',
        `${this.id}: ${matches.length} tokens match: name one with token= or serial=`,
      );
    }
    return slot;
  }

  /**
   * Whether the module is the one the URI's library attributes name (CK_INFO: RFC 7512's exact
   * match of the blank-padded value, and "M" for version M.0); TOKEN_NOT_FOUND if not.
   */
  private async checkLibrary(): Promise<void> {
    const { libraryManufacturer, libraryDescription, libraryVersion } = this.uri;
    if (
      libraryManufacturer === undefined &&
      libraryDescription === undefined &&
      libraryVersion === undefined
    ) {
      return;
    }
    let info;
    try {
      info = await this.answered(this.module.calls.C_GetInfo(), 'C_GetInfo');
    } catch (error) {
      throw this.wrap(error, 'C_GetInfo');
    }
    const { major, minor } = info.libraryVersion;
    const differs = [
      libraryManufacturer !== undefined &&
        info.manufacturerID.trimEnd() !== libraryManufacturer &&
        `library-manufacturer (the module's is "${info.manufacturerID.trimEnd()}")`,
      libraryDescription !== undefined &&
        info.libraryDescription.trimEnd() !== libraryDescription &&
        `library-description (the module's is "${info.libraryDescription.trimEnd()}")`,
      libraryVersion !== undefined &&
        (libraryVersion.major !== major || libraryVersion.minor !== minor) &&
        `library-version (the module's is ${major}.${minor})`,
    ].filter((each) => each !== false);
    if (differs.length > 0) {
      throw new Pkcs11Error(
        'TOKEN_NOT_FOUND',
        `${this.id}: the module ${this.module.path} does not match ${differs.join(', ')}`,
      );
    }
  }

  /** Whether `slot` matches the URI's slot attributes (CK_SLOT_INFO), if it has any. */
  private async slotMatches(slot: Handle): Promise<boolean> {
    const { slotDescription, slotManufacturer } = this.uri;
    if (slotDescription === undefined && slotManufacturer === undefined) return true;
    let info;
    try {
      info = await this.answered(this.module.calls.C_GetSlotInfo(slot), 'C_GetSlotInfo');
    } catch (error) {
      if (error instanceof Pkcs11Error) throw error; // not answered
      if (errorName(error) === 'CKR_SLOT_ID_INVALID') return false; // gone since listed
      throw this.wrap(error, 'C_GetSlotInfo');
    }
    return (
      (slotDescription === undefined || info.slotDescription.trimEnd() === slotDescription) &&
      (slotManufacturer === undefined || info.manufacturerID.trimEnd() === slotManufacturer)
    );
  }

  /**
   * Whether the token in `slot` makes its private keys usable only after C_Login
   * (CKF_LOGIN_REQUIRED): a key of it needs a PIN of its own, since another key's login would show
   * it only until the module is initialized again.
   */
  async loginRequired(slot: Handle): Promise<boolean> {
    let info;
    try {
      info = await this.answered(this.module.calls.C_GetTokenInfo(slot), 'C_GetTokenInfo');
    } catch (error) {
      throw this.wrap(error, 'C_GetTokenInfo');
    }
    return (info.flags & CKF_LOGIN_REQUIRED) !== 0;
  }

  async findKey(session: Handle): Promise<Handle> {
    const template: { type: number; value: number | string | Buffer }[] = [
      { type: CKA.CLASS, value: CKO_PRIVATE_KEY },
    ];
    if (this.uri.object !== undefined) template.push({ type: CKA.LABEL, value: this.uri.object });
    if (this.uri.id !== undefined) template.push({ type: CKA.ID, value: this.uri.id });
    const found = await this.findObjects(session, template);
    const [key] = found;
    if (!key) {
      throw new Pkcs11Error(
        'KEY_NOT_FOUND',
        `${this.id}: no private key matches${this.uri.pinSource === undefined && this.uri.pinValue === undefined ? ' (no PIN given: private keys are visible only after login; add pin-source)' : ''}`,
      );
    }
    if (found.length > 1) {
      throw new Pkcs11Error(
        'KEY_AMBIGUOUS',
        `${this.id}: ${found.length} private keys match: name one with object= and id=`,
      );
    }
    return key;
  }

  private async findObjects(
    session: Handle,
    template: { type: number; value: number | string | Buffer }[],
  ): Promise<Handle[]> {
    const { calls } = this.module;
    await this.answered(calls.C_FindObjectsInit(session, template), 'C_FindObjectsInit');
    let found: Handle[];
    try {
      found = await this.answered(calls.C_FindObjects(session, 16), 'C_FindObjects');
    } catch (error) {
      // The search is ended all the same, without hiding why it failed.
      calls.C_FindObjectsFinal(session).catch(() => {});
      throw error;
    }
    await this.answered(calls.C_FindObjectsFinal(session), 'C_FindObjectsFinal');
    return found;
  }

  /** The private key's type and public parts; EC points come from the matching public key object. */
  async keyAttributes(session: Handle, key: Handle): Promise<KeyAttributes> {
    const { calls } = this.module;
    const read = async (object: Handle, type: number): Promise<Buffer | undefined> => {
      try {
        const [attribute] = await this.answered(
          calls.C_GetAttributeValue(session, object, [{ type }]),
          'C_GetAttributeValue',
        );
        return attribute?.value;
      } catch (error) {
        if (error instanceof Pkcs11Error) throw error; // not answered
        // Not this key's attribute, or not readable: missing. Anything else (the token removed,
        // the module's process dead) is no answer about the key: a token gone, not a key unsupported.
        if (NOT_AN_ATTRIBUTE.has(errorName(error))) return undefined;
        throw this.wrap(error, 'C_GetAttributeValue');
      }
    };
    const keyTypeBytes = await read(key, CKA.KEY_TYPE);
    if (!keyTypeBytes) throw new Pkcs11Error('KEY_UNSUPPORTED', `${this.id}: no CKA_KEY_TYPE`);
    const keyType = Number(keyTypeBytes.readUIntLE(0, Math.min(6, keyTypeBytes.length)));
    const attributes: KeyAttributes = { keyType };
    if (keyType === CKK.RSA) {
      const modulus = await read(key, CKA.MODULUS);
      const publicExponent = await read(key, CKA.PUBLIC_EXPONENT);
      if (modulus) attributes.modulus = modulus;
      if (publicExponent) attributes.publicExponent = publicExponent;
      return attributes;
    }
    const ecParams = await read(key, CKA.EC_PARAMS);
    if (ecParams) attributes.ecParams = ecParams;
    const point = await this.publicPoint(session, key, read);
    const ownPoint = point ?? (await read(key, CKA.EC_POINT));
    if (ownPoint) attributes.ecPoint = ownPoint;
    return attributes;
  }

  /**
   * The CKA_EC_POINT of the private key's public key object: the one with the private key's
   * CKA_ID and label when it has both (an old pair left with the same CKA_ID, or the same label,
   * is not it), else the same CKA_ID, else the same label. Objects that match with one point are
   * one key (copies); with different points the key read would depend on the token's order of
   * objects: KEY_AMBIGUOUS. Undefined when no public key object matches.
   */
  private async publicPoint(
    session: Handle,
    key: Handle,
    read: (object: Handle, type: number) => Promise<Buffer | undefined>,
  ): Promise<Buffer | undefined> {
    const id = await read(key, CKA.ID);
    const label = await read(key, CKA.LABEL);
    const byId = id && id.length > 0 ? [{ type: CKA.ID, value: id }] : [];
    const byLabel =
      label && label.length > 0 ? [{ type: CKA.LABEL, value: label.toString('utf8') }] : [];
    const searches = byId.length > 0 ? [[...byId, ...byLabel], byId] : [byLabel];
    for (const match of searches) {
      if (match.length === 0) continue;
      const found = await this.findObjects(session, [
        { type: CKA.CLASS, value: CKO_PUBLIC_KEY },
        ...match,
      ]);
      const points: Buffer[] = [];
      for (const object of found) {
        const point = await read(object, CKA.EC_POINT);
        if (point && !points.some((each) => each.equals(point))) points.push(point);
      }
      if (points.length > 1) {
        const what = match.length === 2 ? 'CKA_ID and label' : match === byId ? 'CKA_ID' : 'label';
        throw new Pkcs11Error(
          'KEY_AMBIGUOUS',
          `${this.id}: ${found.length} public key objects have the private key's ${what}, with ${points.length} different EC points: remove the stale one, or give each key pair a CKA_ID and a label of its own`,
        );
      }
      if (points.length === 1) return points[0];
    }
    return undefined;
  }
}

/** What C_GetAttributeValue answers for an attribute the object does not have, or hides. */
const NOT_AN_ATTRIBUTE = new Set(['CKR_ATTRIBUTE_TYPE_INVALID', 'CKR_ATTRIBUTE_SENSITIVE']);

/** What C_GetTokenInfo answers for a slot without a (usable) token. */
const NO_TOKEN_IN_SLOT = new Set(['CKR_TOKEN_NOT_PRESENT', 'CKR_TOKEN_NOT_RECOGNIZED']);

/** A CK_SLOT_ID as pkcs11js returns it: a CK_ULONG in host (little-endian) byte order. */
function slotNumber(slot: Handle): bigint {
  return slot.length >= 8 ? slot.readBigUInt64LE(0) : BigInt(slot.readUIntLE(0, slot.length));
}

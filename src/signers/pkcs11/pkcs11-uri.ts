import { Pkcs11Error } from './pkcs11-error.js';

/**
 * A PKCS#11 URI (RFC 7512) as cosign and p11-kit write them:
 * `pkcs11:token=tsa;object=tsa-key?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/secrets/pin`.
 * Path attributes select the token and the key; query attributes say how to reach them.
 */
export interface Pkcs11Uri {
  /** Token attributes (CK_TOKEN_INFO): label, manufacturer ID, model, serial number. */
  token?: string;
  manufacturer?: string;
  model?: string;
  serial?: string;
  /** The slot's CK_SLOT_ID, when no token attribute says which token (slot IDs may change). */
  slotId?: bigint;
  /** Slot attributes (CK_SLOT_INFO): its description and manufacturer ID. */
  slotDescription?: string;
  slotManufacturer?: string;
  /** Module attributes (CK_INFO): its manufacturer ID, description and version ("M" is "M.0"). */
  libraryManufacturer?: string;
  libraryDescription?: string;
  libraryVersion?: { major: number; minor: number };
  /** The key's CKA_LABEL and CKA_ID (raw bytes, percent-encoded in the URI). */
  object?: string;
  id?: Buffer;
  /** The PKCS#11 module (shared library) to load. */
  modulePath: string;
  /** `pin-source`: a file holding the PIN (`file:` URI or absolute path). */
  pinSource?: string;
  /** `pin-value`: the PIN in the URI itself (accepted with a warning). */
  pinValue?: string;
  /**
   * The URI without its query, for logs and errors: never a PIN, even one misplaced in the path
   * (only the values of the known path attributes are shown).
   */
  display: string;
}

/** Path attributes this parser knows (RFC 7512 section 2.3); `type` must be `private` if given. */
const PATH_ATTRIBUTES = new Set([
  'token',
  'manufacturer',
  'model',
  'serial',
  'slot-id',
  'slot-description',
  'slot-manufacturer',
  'library-manufacturer',
  'library-description',
  'library-version',
  'object',
  'id',
  'type',
]);
const QUERY_ATTRIBUTES = new Set(['module-path', 'module-name', 'pin-source', 'pin-value']);

export function isPkcs11Uri(value: string): boolean {
  return /^pkcs11:/i.test(value);
}

/** Decodes %XX escapes to bytes; any other `%` is an error (RFC 7512 section 2.3, pk11-pchar). */
function percentDecode(value: string, name: string, display: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < value.length;) {
    if (value[i] === '%') {
      const hex = value.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) {
        throw invalid(display, `bad percent-encoding in ${name}`);
      }
      bytes.push(parseInt(hex, 16));
      i += 3;
    } else {
      // By code point: a character outside the BMP is two UTF-16 units, one UTF-8 sequence.
      const char = String.fromCodePoint(value.codePointAt(i) as number);
      bytes.push(...Buffer.from(char, 'utf8'));
      i += char.length;
    }
  }
  return Buffer.from(bytes);
}

function invalid(display: string, why: string): Pkcs11Error {
  return new Pkcs11Error('URI_INVALID', `invalid PKCS#11 URI ${display}: ${why}`);
}

function attributes(
  part: string,
  separator: string,
  known: Set<string>,
  display: string,
): Map<string, Buffer> {
  const found = new Map<string, Buffer>();
  if (part === '') return found;
  for (const attribute of part.split(separator)) {
    const equals = attribute.indexOf('=');
    const name = (equals < 0 ? attribute : attribute.slice(0, equals)).toLowerCase();
    if (equals < 0 || name === '') {
      // Without its `=`, an unknown "name" may be a value (a PIN): only a known name is repeated.
      const which = known.has(name) ? `"${name}"` : 'an attribute';
      throw invalid(display, `${which} has no value (name=value)`);
    }
    // Vendor attributes (x-...) are allowed and ignored; unknown standard ones are refused.
    if (name.startsWith('x-')) continue;
    if (!known.has(name)) {
      // After a pin-value, an unknown "name" may be the rest of a PIN holding `&`: not repeated.
      const which = found.has('pin-value') ? '' : ` "${name}"`;
      throw invalid(display, `unknown attribute${which}`);
    }
    if (found.has(name)) throw invalid(display, `"${name}" is given twice`);
    found.set(name, percentDecode(attribute.slice(equals + 1), name, display));
  }
  return found;
}

/**
 * The URI's path as logs and errors show it: the known path attributes as written, any other
 * attribute's value left out (a `pin-value` put before the `?` by mistake), and nothing of a text
 * that is not a `pkcs11:` URI at all. A shown value ends at its first `&` (a query written with
 * `&` where `?` belongs, `object=k&module-path=…&pin-value=…`), and one that still holds `pin-` is
 * left out too: nothing from a `pin-` on is ever shown.
 */
function displayOf(path: string): string {
  if (!isPkcs11Uri(path)) return '(not a pkcs11: URI)';
  const shown = path
    .slice('pkcs11:'.length)
    .split(';')
    .map((attribute) => {
      const equals = attribute.indexOf('=');
      if (equals < 0) return PATH_ATTRIBUTES.has(attribute.toLowerCase()) ? attribute : '…';
      const name = attribute.slice(0, equals);
      if (!PATH_ATTRIBUTES.has(name.toLowerCase())) return `${name}=…`;
      const value = attribute.slice(equals + 1);
      const ampersand = value.indexOf('&');
      const cut = ampersand < 0 ? value : `${value.slice(0, ampersand)}&…`;
      return holdsPin(cut) ? `${name}=…` : `${name}=${cut}`;
    });
  return `pkcs11:${shown.join(';')}`;
}

/** Whether a value may hold a PIN: `pin-` in it, as written or percent-decoded (`%70in-`). */
function holdsPin(value: string): boolean {
  const decoded = value.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) =>
    String.fromCharCode(parseInt(hex, 16)),
  );
  return /pin-/i.test(value) || /pin-/i.test(decoded);
}

/** The `type` values of RFC 7512: the only ones an error repeats (another may be a PIN). */
const OBJECT_TYPES = new Set(['public', 'private', 'cert', 'secret-key', 'data']);

/**
 * Whether a query value that names a file runs into another attribute: `;` where `&` belongs
 * (`module-path=/x.so;pin-value=…`). Such a value would be shown whole where the file is named
 * (a module that cannot be loaded, a PIN file that cannot be read), PIN included.
 */
const RUNS_ON = /[;=]/;

/** Parses a `pkcs11:` URI; throws Pkcs11Error('URI_INVALID') naming the URI without its query. */
export function parsePkcs11Uri(uri: string): Pkcs11Uri {
  const question = uri.indexOf('?');
  const path = question < 0 ? uri : uri.slice(0, question);
  const query = question < 0 ? '' : uri.slice(question + 1);
  const display = displayOf(path);
  if (!isPkcs11Uri(path)) throw invalid(display, 'it must start with "pkcs11:"');
  const pathAttributes = attributes(path.slice('pkcs11:'.length), ';', PATH_ATTRIBUTES, display);
  const queryAttributes = attributes(query, '&', QUERY_ATTRIBUTES, display);
  const text = (map: Map<string, Buffer>, name: string) => map.get(name)?.toString('utf8');

  const type = text(pathAttributes, 'type');
  if (type !== undefined && type !== 'private') {
    // Only a type RFC 7512 defines is repeated: `type=private&module-path=…&pin-value=…` (`&`
    // where `?` belongs) would show the PIN.
    const shown = OBJECT_TYPES.has(type) ? `type=${type}` : 'type is not private';
    const hint = type.includes('&') ? "; the query (module-path, pin-source) follows a '?'" : '';
    throw invalid(display, `${shown}: the signer needs the private key (type=private)${hint}`);
  }
  const modulePath = text(queryAttributes, 'module-path');
  if (modulePath === undefined) {
    throw invalid(
      display,
      queryAttributes.has('module-name')
        ? 'module-name is not supported: give module-path, the PKCS#11 library'
        : question < 0 && /[;&]module-path=/i.test(path)
          ? "module-path (the PKCS#11 library) is required: the query (module-path, pin-source) follows a '?'"
          : 'module-path (the PKCS#11 library) is required',
    );
  }
  if (modulePath === '') throw invalid(display, 'module-path is empty');
  // The value is not repeated: it may hold the PIN.
  if (RUNS_ON.test(modulePath) || /pin-/i.test(modulePath)) {
    throw invalid(
      display,
      "module-path must be the library's path alone, without ';', '=' or 'pin-': the query's attributes are separated by '&'",
    );
  }
  const slot = text(pathAttributes, 'slot-id');
  // A CK_SLOT_ID is a CK_ULONG: up to 2^64-1, read exactly (a number would round past 2^53).
  if (slot !== undefined && (!/^\d+$/.test(slot) || BigInt(slot) >= 1n << 64n)) {
    throw invalid(display, `slot-id must be a decimal number below 2^64`);
  }
  const version = text(pathAttributes, 'library-version');
  const versionParts = version === undefined ? undefined : /^(\d+)(?:\.(\d+))?$/.exec(version);
  if (version !== undefined && !versionParts) {
    throw invalid(display, 'library-version must be M or M.m (decimal numbers)');
  }
  const parsed: Pkcs11Uri = { modulePath, display };
  const token = text(pathAttributes, 'token');
  const manufacturer = text(pathAttributes, 'manufacturer');
  const model = text(pathAttributes, 'model');
  const serial = text(pathAttributes, 'serial');
  const object = text(pathAttributes, 'object');
  const id = pathAttributes.get('id');
  const pinSource = text(queryAttributes, 'pin-source');
  const pinValue = text(queryAttributes, 'pin-value');
  if (token !== undefined) parsed.token = token;
  if (manufacturer !== undefined) parsed.manufacturer = manufacturer;
  if (model !== undefined) parsed.model = model;
  if (serial !== undefined) parsed.serial = serial;
  if (slot !== undefined) parsed.slotId = BigInt(slot);
  const slotDescription = text(pathAttributes, 'slot-description');
  const slotManufacturer = text(pathAttributes, 'slot-manufacturer');
  const libraryManufacturer = text(pathAttributes, 'library-manufacturer');
  const libraryDescription = text(pathAttributes, 'library-description');
  if (slotDescription !== undefined) parsed.slotDescription = slotDescription;
  if (slotManufacturer !== undefined) parsed.slotManufacturer = slotManufacturer;
  if (libraryManufacturer !== undefined) parsed.libraryManufacturer = libraryManufacturer;
  if (libraryDescription !== undefined) parsed.libraryDescription = libraryDescription;
  if (versionParts) {
    parsed.libraryVersion = { major: Number(versionParts[1]), minor: Number(versionParts[2] ?? 0) };
  }
  if (object !== undefined) parsed.object = object;
  if (id !== undefined) parsed.id = id;
  if (pinSource !== undefined) parsed.pinSource = pinSource;
  if (pinValue !== undefined) parsed.pinValue = pinValue;
  if (parsed.object === undefined && parsed.id === undefined) {
    throw invalid(display, 'name the key with object= (its label) or id=');
  }
  if (parsed.pinSource !== undefined && parsed.pinValue !== undefined) {
    throw invalid(display, 'give only one of pin-source and pin-value');
  }
  if (parsed.pinSource !== undefined && RUNS_ON.test(parsed.pinSource)) {
    throw invalid(
      display,
      "pin-source must be the PIN file's path alone, without ';' or '=': the query's attributes are separated by '&'",
    );
  }
  return parsed;
}

/**
 * The file `pin-source` names: `file:` URIs (`file:/p`, `file:///p`, `file://localhost/p`) and
 * plain absolute paths. Never a relative path (it would depend on the server's working directory)
 * nor another host's file (RFC 8089: `file://host/p` is not read here as `host/p`).
 */
export function pinSourcePath(pinSource: string, display: string): string {
  let path = pinSource;
  if (pinSource.startsWith('file://')) {
    const rest = pinSource.slice('file://'.length);
    const slash = rest.indexOf('/');
    const host = slash < 0 ? rest : rest.slice(0, slash);
    if (host !== '' && host.toLowerCase() !== 'localhost') {
      throw invalid(display, "pin-source must name a local file: file:///path, not another host's");
    }
    path = slash < 0 ? '' : rest.slice(slash);
  } else if (pinSource.startsWith('file:')) {
    path = pinSource.slice('file:'.length);
  }
  if (!path.startsWith('/')) {
    throw invalid(
      display,
      'pin-source must be an absolute path: file:/path, file:///path or /path',
    );
  }
  return path;
}

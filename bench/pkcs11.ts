/**
 * Part: issuance through the pkcs11 signer on a SoftHSM2 token (temporary token directory) against
 * raw C_Sign calls on the same key, the same module and as many sessions in flight: what the TSA
 * (digest, DigestInfo, session pool, CMS, self-check of each token) costs on top of the token.
 *   npm run bench -- pkcs11 [--sessions 4] [--seconds 2] [--runs 3] [--latency-ms 1]
 * With --latency-ms, C_SignInit and C_Sign each wait that long first, as a network HSM's round trip
 * (pkcs11-latency-binding.cjs), and tokens/s are compared with what such an HSM allows: `sessions`
 * signatures every two round trips.
 */
import { createHash } from 'node:crypto';
import { HASHES } from '../src/asn1/algorithms.js';
import { octetString, sequence } from '../src/asn1/der.js';
import {
  CKA,
  CKF_OS_LOCKING_OK,
  CKF_SERIAL_SESSION,
  CKM,
  CKO_PRIVATE_KEY,
} from '../src/signers/pkcs11/pkcs11-constants.js';
import { join } from 'node:path';
import { startPkcs11Host } from '../src/signers/pkcs11/pkcs11-host.js';
import type { LoadModule } from '../src/signers/pkcs11/pkcs11-module.js';
import { createPkcs11Signer } from '../src/signers/pkcs11/pkcs11-signer.js';
import { parseCertificate } from '../src/x509/certificate.js';
import { encodeRequest } from '../test/helpers/requests.js';
import { SOFTHSM_MODULE, SoftHsm, type HsmKeyType } from '../test/helpers/softhsm.js';
import { createBenchChain } from './keys.js';
import { format, median, rate } from './stats.js';
import { defaultAuthority } from '../test/helpers/authority.js';

export interface Pkcs11BenchResult {
  key: string;
  sessions: number;
  /** Tokens/s through TimestampAuthority.issue with the pkcs11 signer (self-check on). */
  tokens: number;
  /**
   * C_SignInit + C_Sign (C_Sign on the thread pool) per second, same key, same sessions in flight,
   * called on the main thread (the signer calls the module in a process of its own: the hop is its
   * cost); with a latency, what the round trips allow.
   */
  rawSign: number;
}

const KEYS: [string, HsmKeyType][] = [
  ['p256', 'EC:prime256v1'],
  ['rsa3072', 'rsa:3072'],
];

export async function benchPkcs11(
  options: { sessions?: number; seconds?: number; runs?: number; latencyMs?: number } = {},
): Promise<Pkcs11BenchResult[]> {
  const sessions = options.sessions ?? 4;
  const seconds = options.seconds ?? 2;
  const runs = options.runs ?? 3;
  const latencyMs = options.latencyMs ?? 0;
  let loadModule: LoadModule | undefined;
  if (latencyMs > 0) {
    process.env['PKCS11_LATENCY_MS'] = String(latencyMs); // read by the module's process
    const binding = join(import.meta.dirname, 'pkcs11-latency-binding.cjs');
    loadModule = (path, settings) => startPkcs11Host(path, { ...settings, binding });
  }
  const hsm = new SoftHsm();
  const results: Pkcs11BenchResult[] = [];
  try {
    await hsm.initToken('bench');
    for (const [index, [key, type]] of KEYS.entries()) {
      await hsm.keygen('bench', key, type, `0${index + 1}`);
    }
    for (const [key] of KEYS) {
      const signer = await createPkcs11Signer(hsm.uri('bench', key), 'sha256', {
        maxSessions: sessions,
        ...(loadModule ? { loadModule } : {}),
      });
      const chain = (await createBenchChain(signer.publicKey)).map(parseCertificate);
      const authority = defaultAuthority(signer, chain, { verifySignatures: true });
      const request = encodeRequest({
        digest: createHash('sha256').update(key).digest(),
        nonce: 1n,
      });
      const issue = async () => {
        if ((await authority.issue(request, 'der')).status !== 'granted')
          throw new Error('pkcs11 bench request refused');
      };
      await issue();
      const raw = latencyMs > 0 ? undefined : await rawSigner(hsm, key, sessions);
      const tokenRates: number[] = [];
      const rawRates: number[] = [];
      for (let run = 0; run < runs; run++) {
        tokenRates.push(await rate(seconds, issue, sessions));
        if (raw) rawRates.push(await rate(seconds, raw.sign, sessions));
      }
      raw?.close();
      await signer[Symbol.asyncDispose]();
      // With a latency, what the HSM allows: each session signs once every two round trips.
      const bound = raw ? median(rawRates) : (sessions * 1000) / (2 * latencyMs);
      const result = { key, sessions, tokens: median(tokenRates), rawSign: bound };
      results.push(result);
      const against = raw ? 'raw C_Sign' : `${latencyMs} ms round trips allow`;
      console.log(
        `pkcs11 softhsm2 ${key.padEnd(8)} ${sessions} sessions: ${format(result.tokens).padStart(6)} tokens/s, ` +
          `${against} ${format(result.rawSign).padStart(6)}/s (${format((100 * result.tokens) / result.rawSign)} %)`,
      );
    }
  } finally {
    hsm.cleanup();
  }
  return results;
}

/**
 * C_Sign alone, through pkcs11js on this thread: `sessions` sessions, each signing what the signer
 * would (a SHA-256 digest, or its DigestInfo for RSA). This process's own instance of the module
 * (the signer's runs in a process of its own): the first key initializes it, the next finds it
 * initialized, and the process's exit ends it.
 */
async function rawSigner(hsm: SoftHsm, label: string, sessions: number) {
  const pkcs11js = ((await import('pkcs11js')) as unknown as { default: typeof import('pkcs11js') })
    .default;
  const api = new pkcs11js.PKCS11();
  api.load(SOFTHSM_MODULE);
  try {
    api.C_Initialize({ flags: CKF_OS_LOCKING_OK });
  } catch (error) {
    if (!(error instanceof Error) || error.message !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED')
      throw error;
  }
  const [slot] = api
    .C_GetSlotList(true)
    .filter((s) => api.C_GetTokenInfo(s).label.trimEnd() === 'bench');
  if (!slot) throw new Error('bench token not found');
  const handles = Array.from({ length: sessions }, () =>
    api.C_OpenSession(slot, CKF_SERIAL_SESSION),
  );
  try {
    api.C_Login(
      handles[0] as Buffer,
      1,
      (await import('node:fs')).readFileSync(hsm.pinFile, 'utf8').trim(),
    );
  } catch (error) {
    if (!(error instanceof Error) || error.message !== 'CKR_USER_ALREADY_LOGGED_IN') throw error;
  }
  const session0 = handles[0] as Buffer;
  api.C_FindObjectsInit(session0, [
    { type: CKA.CLASS, value: CKO_PRIVATE_KEY },
    { type: CKA.LABEL, value: label },
  ]);
  const [key] = api.C_FindObjects(session0, 1);
  api.C_FindObjectsFinal(session0);
  if (!key) throw new Error(`bench key ${label} not found`);
  const digest = createHash('sha256').update('raw').digest();
  const rsa = label.startsWith('rsa');
  const input = rsa ? sequence(HASHES.sha256.identifierWithNull, octetString(digest)) : digest;
  const mechanism = { mechanism: rsa ? CKM.RSA_PKCS : CKM.ECDSA };
  const free = [...handles];
  return {
    sign: async () => {
      const session = free.pop() as Buffer;
      try {
        api.C_SignInit(session, mechanism, key);
        await api.C_SignAsync(session, input, Buffer.alloc(rsa ? 384 : 64));
      } finally {
        free.push(session);
      }
    },
    close: () => {
      for (const session of handles) api.C_CloseSession(session);
    },
  };
}

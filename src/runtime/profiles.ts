import type { FastifyBaseLogger } from 'fastify';
import {
  DEFAULT_PROFILE_NAME,
  type PreviousChain,
  type ProfileConfig,
} from '../config/profiles.js';
import type { ServeConfig } from '../config/schema.js';
import type { Signer } from '../crypto/signer.js';
import type { ServedProfile, TrustedRootSource } from '../server/app.js';
import type { TimestampAuthority } from '../tsp/authority.js';
import { parseCertificate, type Certificate } from '../x509/certificate.js';
import { ChainRuleError, verifyPreviousChain } from '../x509/chain-rules.js';
import { loadCertificateChain } from '../x509/load-certificate-chain.js';
import {
  authorityWindows,
  leafKey,
  TrustedRootError,
  trustedRootJson,
  type AuthorityWindow,
} from '../x509/trusted-root.js';
import type { DisposableStack } from './disposables.js';

/** What authority.ts's createAuthority builds for a profile. */
export interface BuiltAuthority {
  authority: TimestampAuthority;
  signer: Signer;
  chain: Certificate[];
  chainPem: string;
  acceptedPolicies: ReadonlySet<string>;
  chainValid: () => boolean;
}

/** The named profiles of the config file, each with its own signer (released by `stack`). */
export async function createNamedProfiles(
  config: ServeConfig,
  logger: FastifyBaseLogger,
  build: (profile: ProfileConfig) => Promise<BuiltAuthority>,
  stack: DisposableStack,
): Promise<(ServedProfile & BuiltAuthority)[]> {
  const built = [];
  for (const profile of config.profiles ?? []) {
    const tsa = await build(profile);
    stack.use(tsa.signer);
    built.push({
      ...tsa,
      name: profile.name,
      policies: tsa.acceptedPolicies,
      defaultPolicyOid: profile.policyOids[0]!,
    });
    logger.info(
      { profile: profile.name, signer: tsa.signer.id, policies: profile.policyOids },
      `profile ${profile.name}: serving on /api/v1/timestamp/${profile.name}`,
    );
  }
  return built;
}

/**
 * Each previous chain, refused at start-up unless it is one verifiers can follow
 * (verifyPreviousChain: a reversed chain or a root alone was published, and its tokens no longer
 * verified) and its dates can be read (a date Node cannot read would make its trusted-root window
 * NaN, and every GET of the trusted root a 500).
 */
async function loadPrevious(previous: readonly PreviousChain[]) {
  return Promise.all(
    previous.map(async ({ path, retired }) => {
      const chain = (await loadCertificateChain(path)).map(parseCertificate);
      try {
        verifyPreviousChain(chain);
      } catch (error) {
        if (!(error instanceof ChainRuleError)) throw error;
        throw new ChainRuleError(error.code, `previous chain ${path}: ${error.message}`, {
          cause: error,
        });
      }
      return { chain, source: path, ...(retired ? { retired } : {}) };
    }),
  );
}

/**
 * Two profiles with one key are `warn`ed about: a token of either verifies under the other's
 * trust entry (only its policy tells them apart), which a profile of its own key avoids. Not
 * refused: profiles that differ only in their digest or accuracy may share a key on purpose.
 */
function warnOfSharedKeys(
  current: readonly { name: string; chain: readonly Certificate[]; source: string }[],
  warn: (message: string) => void,
) {
  const owners = new Map<string, { name: string; source: string }>();
  for (const { name, chain, source } of current) {
    const key = leafKey(chain).toString('hex');
    const owner = owners.get(key);
    if (owner)
      warn(
        `profiles "${owner.name}" (${owner.source}) and "${name}" (${source}) sign with one key: a token of either verifies with the other's chain, its policy OID alone tells them apart`,
      );
    else owners.set(key, { name, source });
  }
}

/**
 * Refuses a previous chain of one profile that is another's current chain: its trusted-root entry
 * would say the key retired while it signs. A previous chain whose leaf is another certificate
 * for another profile's current key is `warn`ed about (the key may have moved on purpose).
 */
function refuseRetiredElsewhere(
  profiles: readonly {
    name: string;
    chain: readonly Certificate[];
    source: string;
    older: readonly { chain: readonly Certificate[]; source: string }[];
  }[],
  warn: (message: string) => void,
): void {
  for (const profile of profiles) {
    for (const old of profile.older) {
      for (const other of profiles) {
        if (other === profile) continue; // authorityWindows refuses it within one profile
        const where = `previous chain ${old.source} of profile "${profile.name}"`;
        const current = `the current chain of profile "${other.name}" (${other.source})`;
        if (old.chain[0]!.der.equals(other.chain[0]!.der))
          throw new TrustedRootError(
            'DUPLICATE_CHAIN',
            `${where} is ${current}: a key cannot be retired in one profile and sign in another`,
          );
        if (leafKey(old.chain).equals(leafKey(other.chain)))
          warn(
            `${where} has the key of ${current}: its trusted-root entry says the key was retired while it still signs`,
          );
      }
    }
  }
}

/**
 * The trusted root of every profile's current and previous chains, checked at start-up (one leaf
 * certificate twice, a previous chain newer than the current one, or retired before it began, stop
 * the start; one retired after it expired, and two profiles with one key, are `warn`ed about).
 * Each entry's uri is the profile's timestamp URL under the origin the client asked (none
 * without one).
 */
export async function createTrustedRoot(
  config: ServeConfig,
  defaultChain: readonly Certificate[],
  named: readonly { name: string; chain: readonly Certificate[] }[],
  warn: (message: string) => void,
): Promise<TrustedRootSource> {
  const profiles = [
    {
      path: '/api/v1/timestamp',
      name: DEFAULT_PROFILE_NAME,
      chain: defaultChain,
      chainPath: config.certificateChainPath,
      previous: config.previousChains ?? [],
    },
    ...named.map(({ name, chain }) => {
      const profile = config.profiles?.find((candidate) => candidate.name === name);
      return {
        path: `/api/v1/timestamp/${name}`,
        name,
        chain,
        chainPath: profile?.certificateChainPath ?? '',
        previous: profile?.previousChains ?? [],
      };
    }),
  ].map((profile) => ({
    ...profile,
    source: profile.chainPath || `(profile ${profile.name}, memory)`,
  }));
  warnOfSharedKeys(profiles, warn);
  const loaded = await Promise.all(
    profiles.map(async (profile) => ({ ...profile, older: await loadPrevious(profile.previous) })),
  );
  refuseRetiredElsewhere(loaded, warn);
  const windows: { path: string; window: AuthorityWindow }[] = [];
  for (const { path, chain, source, older } of loaded) {
    for (const window of authorityWindows({ chain, source }, older, warn))
      windows.push({ path, window });
  }
  return (origin) =>
    trustedRootJson(
      windows.map(({ path, window }) => ({
        window,
        uri: origin === undefined ? undefined : `${origin}${path}`,
      })),
    );
}

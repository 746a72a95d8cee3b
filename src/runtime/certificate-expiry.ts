import { X509Certificate } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { Certificate } from '../x509/certificate.js';
import { earliestChainEnd, subjectLine, type ChainEnd } from '../x509/chain-end.js';

const DAY_MS = 86_400_000;

/** From this long before a chain ends, a WARN at start and each day after. */
export const EXPIRY_WARNING_MS = 30 * DAY_MS;

/** The longest delay setTimeout takes (2^31 - 1 ms, 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

const inDays = (days: number) =>
  days === 0 ? 'less than a day' : days === 1 ? '1 day' : `${days} days`;

export interface ExpiryWatchOptions {
  now?: () => number;
  setTimer?: (run: () => void, ms: number) => { unref(): unknown };
  clearTimer?: (timer: unknown) => void;
}

/** What an end means, in the lines that say it comes and that it came. */
interface EndConsequence {
  /** After "... in 12 days (date): ". */
  soon: string;
  /** After "... at date: ". */
  came: string;
}

/**
 * Says ahead when `end` comes (a WARN at start and each day from EXPIRY_WARNING_MS before), and
 * once, as an ERROR, when it has. Returns the stop.
 */
function watchEnd(
  end: ChainEnd,
  consequence: EndConsequence,
  logger: Pick<FastifyBaseLogger, 'warn' | 'error'>,
  options: ExpiryWatchOptions,
): () => void {
  const now = options.now ?? Date.now;
  const setTimer = options.setTimer ?? setTimeout;
  const clearTimer = options.clearTimer ?? ((timer) => clearTimeout(timer as NodeJS.Timeout));
  const at = new Date(end.at).toISOString();
  let timer: unknown;
  const check = () => {
    const left = end.at - now();
    if (left <= 0) {
      logger.error(`${end.what} ${end.ended} at ${at}: ${consequence.came}`);
      return;
    }
    if (left <= EXPIRY_WARNING_MS) {
      const days = Math.floor(left / DAY_MS);
      logger.warn(
        { endsAt: at },
        `${end.what} ${end.ends} in ${inDays(days)} (${at}): ${consequence.soon}`,
      );
    }
    // Again a day later, or as it ends: whichever comes first.
    const next = setTimer(check, Math.min(left, DAY_MS, MAX_TIMER_MS));
    next.unref();
    timer = next;
  };
  check();
  return () => clearTimer(timer);
}

/** A chain whose end is watched: the top level's (no name) or a named profile's. */
export interface WatchedChain {
  profile?: string;
  chain: readonly Certificate[];
}

/**
 * Says ahead when issuance will stop because a chain ends, and once when it has: the certificate
 * guard then refuses every request (of that profile), and the requests' own lines would be the
 * only trace. Each chain is watched on its own, a profile's lines named by it.
 */
export function watchCertificateExpiry(
  chains: readonly WatchedChain[],
  logger: Pick<FastifyBaseLogger, 'warn' | 'error'>,
  options: ExpiryWatchOptions = {},
): () => void {
  const stops = chains.flatMap(({ profile, chain }) => {
    const end = earliestChainEnd([chain]);
    if (!end) return [];
    const named = profile === undefined ? end : { ...end, what: `profile ${profile}: ${end.what}` };
    const issuance = profile === undefined ? 'issuance' : `issuance of profile ${profile}`;
    const consequence = {
      soon: `${issuance} stops then; renew the chain`,
      came: `${issuance} refused until the chain is replaced`,
    };
    return [watchEnd(named, consequence, logger, options)];
  });
  return () => stops.forEach((stop) => stop());
}

/**
 * The same for the HTTPS listener's certificate (--tls-certificate, the first of its file): the
 * server serves it however old (as Go does), and clients refuse it. One not valid yet is said at
 * start.
 */
export function watchTlsCertificateExpiry(
  certificatePem: Buffer,
  logger: Pick<FastifyBaseLogger, 'warn' | 'error'>,
  options: ExpiryWatchOptions = {},
): () => void {
  const certificate = new X509Certificate(certificatePem);
  const name = subjectLine(certificate);
  const notBefore = Date.parse(certificate.validFrom);
  if (notBefore > (options.now ?? Date.now)()) {
    logger.warn(
      `HTTPS certificate "${name}" is not valid before ${new Date(notBefore).toISOString()}: clients refuse it until then`,
    );
  }
  const end = {
    at: Date.parse(certificate.validTo),
    what: `HTTPS certificate "${name}"`,
    ends: 'expires',
    ended: 'expired',
  };
  const consequence = {
    soon: 'clients refuse it then; renew --tls-certificate (read at start: restart after)',
    came: 'clients refuse the HTTPS listener until --tls-certificate is renewed and the server restarted',
  };
  return watchEnd(end, consequence, logger, options);
}

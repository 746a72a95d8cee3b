import { X509Certificate } from 'node:crypto';
import { expect, it } from 'vitest';
import {
  EXPIRY_WARNING_MS,
  watchCertificateExpiry,
  watchTlsCertificateExpiry,
} from '../../../src/runtime/certificate-expiry.js';
import { parseCertificate } from '../../../src/x509/certificate.js';
import { selfSignedTls } from '../../fakes/tls.js';

const DAY_MS = 86_400_000;

/** A logger that keeps `LEVEL message` of each line, and the lines. */
function recordingLogger() {
  const lines: string[] = [];
  const record = (level: string) => (fields: unknown, message?: string) =>
    lines.push(`${level} ${typeof fields === 'string' ? fields : message}`);
  return { lines, logger: { warn: record('WARN'), error: record('ERROR') } as never };
}

/** Timers that are never run but by hand. */
const heldTimers = { setTimer: () => ({ unref: () => undefined }), clearTimer: () => undefined };

it('warns each day within 30 days of the chain’s end, and says once, as an error, when it has ended', () => {
  // openssl's certificate of 2 days.
  const x509 = new X509Certificate(selfSignedTls().cert);
  const chain = [parseCertificate(x509.raw)];
  const end = Date.parse(x509.validTo);
  const { lines, logger } = recordingLogger();
  const timers: { run: () => void; ms: number }[] = [];
  let now = end - EXPIRY_WARNING_MS - DAY_MS;
  const stop = watchCertificateExpiry([{ chain }], logger, {
    now: () => now,
    setTimer: (run, ms) => {
      timers.push({ run, ms });
      return { unref: () => undefined };
    },
    clearTimer: () => undefined,
  });
  const at = new Date(end).toISOString();
  // 31 days ahead: nothing said yet, a look again in a day.
  expect(lines).toEqual([]);
  expect(timers.at(-1)?.ms).toBe(DAY_MS);
  now += DAY_MS + 1;
  timers.at(-1)?.run();
  expect(lines).toEqual([
    `WARN TSA chain certificate "CN=127.0.0.1" expires in 29 days (${at}): issuance stops then; renew the chain`,
  ]);
  now = end - 1_000;
  timers.at(-1)?.run();
  expect(lines.at(-1)).toBe(
    `WARN TSA chain certificate "CN=127.0.0.1" expires in less than a day (${at}): issuance stops then; renew the chain`,
  );
  // The next look is as it ends.
  expect(timers.at(-1)?.ms).toBe(1_000);
  now = end;
  const scheduled = timers.length;
  timers.at(-1)?.run();
  expect(lines.at(-1)).toBe(
    `ERROR TSA chain certificate "CN=127.0.0.1" expired at ${at}: issuance refused until the chain is replaced`,
  );
  // Said once: no timer after it.
  expect(timers).toHaveLength(scheduled);
  stop();
});

it('says when the HTTPS certificate expires, has expired, or is not valid yet', () => {
  const { cert } = selfSignedTls();
  const x509 = new X509Certificate(cert);
  const end = Date.parse(x509.validTo);
  const { lines, logger } = recordingLogger();
  const timers = heldTimers;
  const at = new Date(end).toISOString();
  watchTlsCertificateExpiry(Buffer.from(cert), logger, { ...timers, now: () => end - DAY_MS / 2 });
  watchTlsCertificateExpiry(Buffer.from(cert), logger, { ...timers, now: () => end + 1 });
  watchTlsCertificateExpiry(Buffer.from(cert), logger, {
    ...timers,
    now: () => Date.parse(x509.validFrom) - 1,
  });
  expect(lines).toEqual([
    `WARN HTTPS certificate "CN=127.0.0.1" expires in less than a day (${at}): clients refuse it then; renew --tls-certificate (read at start: restart after)`,
    `ERROR HTTPS certificate "CN=127.0.0.1" expired at ${at}: clients refuse the HTTPS listener until --tls-certificate is renewed and the server restarted`,
    `WARN HTTPS certificate "CN=127.0.0.1" is not valid before ${new Date(Date.parse(x509.validFrom)).toISOString()}: clients refuse it until then`,
    `WARN HTTPS certificate "CN=127.0.0.1" expires in 2 days (${at}): clients refuse it then; renew --tls-certificate (read at start: restart after)`,
  ]);
});

it("watches each chain on its own, a profile's named in its lines", () => {
  const x509 = new X509Certificate(selfSignedTls().cert);
  const chain = [parseCertificate(x509.raw)];
  const end = Date.parse(x509.validTo);
  const { lines, logger } = recordingLogger();
  watchCertificateExpiry([{ profile: 'qualified', chain }], logger, {
    ...heldTimers,
    now: () => end + 1,
  });
  expect(lines).toEqual([
    `ERROR profile qualified: TSA chain certificate "CN=127.0.0.1" expired at ${new Date(end).toISOString()}: issuance of profile qualified refused until the chain is replaced`,
  ]);
});

import { Gauge } from 'prom-client';
import { registry } from '../metrics/registry.js';

let isValid: (() => boolean) | undefined;

const NAME = 'timestamp_authority_certificate_chain_valid';

/**
 * 1 while the whole TSA chain is within its validity period (tokens are issued), else 0. In the
 * registry only once there is a chain to check: a cluster worker still starting would otherwise
 * say 0 (a gauge's value before its first set), and the `min` across workers would say the whole
 * server refuses to issue while one replacement loads its key.
 */
const chainValid = new Gauge({
  name: NAME,
  help: 'Whether every certificate of the TSA chain is within its validity period (1) or not, so issuance is refused (0)',
  registers: [],
  // Across cluster workers: valid only if valid in every one.
  aggregator: 'min',
  collect() {
    if (isValid) this.set(isValid() ? 1 : 0);
  },
});

/** Points the gauge at the running authority's certificate-validity check. */
export function trackCertificateValidity(check: () => boolean): void {
  isValid = check;
  if (!registry.getSingleMetric(NAME)) registry.registerMetric(chainValid);
}

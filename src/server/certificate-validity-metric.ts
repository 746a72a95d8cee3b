import { Gauge } from 'prom-client';
import { registry } from '../metrics/registry.js';

let isValid: (() => boolean) | undefined;

/** 1 while the whole TSA chain is within its validity period (tokens are issued), else 0. */
new Gauge({
  name: 'timestamp_authority_certificate_chain_valid',
  help: 'Whether every certificate of the TSA chain is within its validity period (1) or not, so issuance is refused (0)',
  registers: [registry],
  // Across cluster workers: valid only if valid in every one.
  aggregator: 'min',
  collect() {
    if (isValid) this.set(isValid() ? 1 : 0);
  },
});

/** Points the gauge at the running authority's certificate-validity check. */
export function trackCertificateValidity(check: () => boolean): void {
  isValid = check;
}

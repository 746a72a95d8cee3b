import { Counter, Gauge } from 'prom-client';
import { registry } from '../../metrics/registry.js';

/** Registered when the pkcs11 signer is first loaded (it is loaded only when configured). */
export const pkcs11SessionsOpen = new Gauge({
  name: 'timestamp_authority_pkcs11_sessions',
  help: 'PKCS#11 sessions the signer holds open (at most --pkcs11-max-sessions)',
  registers: [registry],
});

export const pkcs11SessionsOpened = new Counter({
  name: 'timestamp_authority_pkcs11_sessions_opened_total',
  help: 'PKCS#11 sessions opened by the signer (more than --pkcs11-max-sessions after token errors)',
  registers: [registry],
});

export const pkcs11HostStops = new Counter({
  name: 'timestamp_authority_pkcs11_module_process_stops_total',
  help: "PKCS#11 module processes stopped other than at shutdown: 'stuck' (a call unanswered twice --pkcs11-timeout: killed), 'died' (crashed or killed); the next signature starts a new one",
  labelNames: ['reason'] as const,
  registers: [registry],
});

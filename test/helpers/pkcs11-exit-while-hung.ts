/**
 * Loads SoftHSM2's module in its own process through the hanging binding and calls C_Initialize,
 * which the test makes hang (PKCS11_HANG_DIR); prints the module process's ID, and calls
 * process.exit(0), as the server does after a shutdown, when its standard input ends. The tests
 * check that this process exits all the same, or is killed, and that its module's process goes
 * with it.
 */
import { join } from 'node:path';
import { startPkcs11Host } from '../../src/signers/pkcs11/pkcs11-host.js';
import { SOFTHSM_MODULE } from './softhsm.js';

const host = await startPkcs11Host(SOFTHSM_MODULE, {
  binding: join(import.meta.dirname, 'pkcs11-hanging-binding.cjs'),
  stuckAfterMs: 3_600_000,
});
host.C_Initialize({ flags: 0 }).catch(() => {});
process.stdout.write(`${host.pid}\n`);
process.stdin.on('end', () => process.exit(0)).resume();

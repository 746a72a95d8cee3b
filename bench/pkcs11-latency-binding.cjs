/**
 * pkcs11js whose C_SignInit and C_Sign each wait PKCS11_LATENCY_MS (default 1) before calling the
 * module, on the calling thread, as a network HSM's client waits for the HSM's answer. Loaded by
 * the module's process in place of pkcs11js (`npm run bench -- pkcs11 --latency-ms N`).
 */
'use strict';
const pkcs11js = require('pkcs11js');

const latencyMs = Number(process.env.PKCS11_LATENCY_MS ?? 1);
const cell = new Int32Array(new SharedArrayBuffer(4));

function LatencyPKCS11() {
  const api = new pkcs11js.PKCS11();
  for (const name of ['C_SignInit', 'C_Sign']) {
    const call = api[name];
    api[name] = function (...args) {
      Atomics.wait(cell, 0, 0, latencyMs); // a round trip
      return call.apply(this, args);
    };
  }
  return api;
}

module.exports = Object.assign(Object.create(pkcs11js), { PKCS11: LatencyPKCS11 });

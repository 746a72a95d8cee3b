/**
 * pkcs11js, with a C_SignInit that does not return while the FIFO named by PKCS11_HANG_FIFO exists:
 * it blocks in open(2)/read(2) on it, as a network HSM's client blocks on an answer that does not
 * come. Loaded by the PKCS#11 thread in place of pkcs11js (startPkcs11Thread's `binding`); the
 * test lets the call go on by opening the FIFO for writing, removing it and closing it.
 */
'use strict';
const { existsSync, readFileSync } = require('node:fs');
const pkcs11js = require('pkcs11js');

function HangingPKCS11() {
  const api = new pkcs11js.PKCS11();
  const signInit = api.C_SignInit;
  api.C_SignInit = function (...args) {
    const fifo = process.env.PKCS11_HANG_FIFO;
    if (fifo && existsSync(fifo)) readFileSync(fifo);
    return signInit.apply(this, args);
  };
  return api;
}

module.exports = Object.assign(Object.create(pkcs11js), { PKCS11: HangingPKCS11 });

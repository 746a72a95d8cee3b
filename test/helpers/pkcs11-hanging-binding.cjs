/**
 * pkcs11js, with module calls that do not return while a FIFO named after them exists in the
 * folder PKCS11_HANG_DIR (`C_SignInit`, `C_Login`..., `load`, and `require`: the binding's own
 * loading): the call blocks in
 * open(2)/read(2) on it, as a network HSM's client blocks on an answer that does not come; and a
 * `load` that fails while a file `load-fails` exists there. Loaded by the module's process in
 * place of pkcs11js (startPkcs11Host's `binding`); a test lets the call go on by opening the FIFO
 * for writing, removing it and closing it.
 */
'use strict';
const { existsSync, readFileSync } = require('node:fs');
const { join } = require('node:path');
const pkcs11js = require('pkcs11js');

// Loading the binding itself (Node and pkcs11js starting slowly on a busy machine), under `require`.
const loading = join(process.env.PKCS11_HANG_DIR ?? '', 'require');
if (process.env.PKCS11_HANG_DIR && existsSync(loading)) readFileSync(loading);

const CALLS = [
  'load',
  'C_Initialize',
  'C_GetSlotList',
  'C_OpenSession',
  'C_Login',
  'C_FindObjectsInit',
  'C_SignInit',
];

function HangingPKCS11() {
  const api = new pkcs11js.PKCS11();
  for (const name of CALLS) {
    const call = api[name];
    api[name] = function (...args) {
      const fifo = join(process.env.PKCS11_HANG_DIR ?? '', name);
      if (process.env.PKCS11_HANG_DIR && existsSync(fifo)) readFileSync(fifo);
      if (name === 'load' && existsSync(`${fifo}-fails`)) throw new Error('load refused (test)');
      return call.apply(this, args);
    };
  }
  return api;
}

module.exports = Object.assign(Object.create(pkcs11js), { PKCS11: HangingPKCS11 });

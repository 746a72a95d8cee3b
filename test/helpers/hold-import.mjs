// Registers a resolve hook that holds the import of the first module whose URL matches the regular
// expression $HOLD_IMPORT: it writes that URL to the file $HOLD_IMPORT_MARKER, then finishes the
// import only once the file $HOLD_IMPORT_RELEASE exists. The process's main thread is free
// meanwhile (signals are handled as usual); nothing of the held module has run.
import { register } from 'node:module';

const hook = `
import { existsSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
const { HOLD_IMPORT, HOLD_IMPORT_MARKER, HOLD_IMPORT_RELEASE } = process.env;
let held = false;
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  if (HOLD_IMPORT && !held && new RegExp(HOLD_IMPORT).test(resolved.url)) {
    held = true;
    writeFileSync(HOLD_IMPORT_MARKER, resolved.url);
    while (!existsSync(HOLD_IMPORT_RELEASE)) await sleep(5);
  }
  return resolved;
}`;
register(`data:text/javascript,${encodeURIComponent(hook)}`);

/** C0 controls, DEL and C1 controls (U+009B is a CSI to some terminals). */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/**
 * Untrusted text (a token's names, a log's origin) made safe to print: every control character
 * as \xNN (errorLine in cli/exit-status.ts escapes error lines with it), so a terminal neither
 * obeys an escape sequence nor shows a line break as a line of ours.
 */
export function terminalText(text: string): string {
  return text.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/**
 * JSON.stringify, then DEL and the C1 controls, which JSON leaves raw, as \u00NN: the same value
 * once parsed, and nothing a terminal would obey (JSON escapes the C0 controls itself).
 */
export function terminalJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(
    /[\u007f-\u009f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

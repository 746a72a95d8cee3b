import { derProblem, generalizedTimeProblem, shapeProblem, type Field } from './der.js';
import { CONTEXT, DerNode, readNode, timeValue, UNIVERSAL } from './der-node.js';
import { DecodeError } from './errors.js';

/**
 * When the TSA certificate's key may sign (X.509 section 9.2.2.5, RFC 3280 section 4.2.1.4): a
 * CA may end the key's signing before the certificate expires, so that the last tokens stay
 * verifiable for the rest of its life. An absent bound leaves that side to the validity.
 */
export interface PrivateKeyUsagePeriod {
  notBefore?: Date;
  notAfter?: Date;
}

/** [n] IMPLICIT GeneralizedTime: primitive, as a GeneralizedTime is. */
const bound = (tagNumber: number) => (element: DerNode) =>
  element.is(CONTEXT, tagNumber) && !element.constructed;

const FIELDS: readonly Field[] = [
  { name: 'notBefore', is: bound(0), optional: true },
  { name: 'notAfter', is: bound(1), optional: true },
];

/**
 * A bound's instant. RFC 5280 section 4.1.2.5.2 has certificates' GeneralizedTimes in whole
 * seconds: YYYYMMDDHHMMSSZ, as the server's reader (src/x509) requires too.
 */
function boundTime(element: DerNode, name: string): Date {
  const content = element.content;
  const problem = generalizedTimeProblem(content);
  if (problem) throw new DecodeError('not-der', `its ${name}: ${problem}`);
  const text = content.toString('latin1');
  if (text.length !== 15)
    throw new DecodeError(
      'not-der',
      `its ${name} ${text} has a fraction of a second (RFC 5280 section 4.1.2.5.2)`,
    );
  // Implicit tagging replaced the GeneralizedTime tag only: with it back, timeValue reads it.
  const retagged = Buffer.concat([Buffer.from([24, content.length]), content]);
  return timeValue(new DerNode(retagged, UNIVERSAL, 24, false, 2)) as Date;
}

/**
 * Reads the extension's value (the extnValue's contents): PrivateKeyUsagePeriod ::= SEQUENCE {
 * notBefore [0] GeneralizedTime OPTIONAL, notAfter [1] GeneralizedTime OPTIONAL }. Throws a
 * DecodeError that says why when it is not DER of that shape, has neither bound (RFC 3280: "at
 * least one of the two components is present"), a bound that is not YYYYMMDDHHMMSSZ or names no
 * real instant (month 13), or ends before it begins: the server refuses such a leaf at start.
 */
export function readPrivateKeyUsagePeriod(value: Buffer): PrivateKeyUsagePeriod {
  const notDer = derProblem(value);
  if (notDer) throw new DecodeError('not-der', notDer);
  const node = readNode(value);
  if (node.der.length !== value.length)
    throw new DecodeError('not-der', 'bytes after the PrivateKeyUsagePeriod');
  const shape = shapeProblem(node, FIELDS, 'PrivateKeyUsagePeriod');
  if (shape) throw new DecodeError('unexpected-type', shape);
  const [notBefore, notAfter] = [0, 1].map((tag) => node.children.find(bound(tag)));
  if (!notBefore && !notAfter)
    throw new DecodeError(
      'unexpected-type',
      'it has neither notBefore nor notAfter (RFC 3280 section 4.2.1.4: at least one is present)',
    );
  const period: PrivateKeyUsagePeriod = {};
  if (notBefore) period.notBefore = boundTime(notBefore, 'notBefore');
  if (notAfter) period.notAfter = boundTime(notAfter, 'notAfter');
  if (period.notBefore && period.notAfter && period.notAfter < period.notBefore)
    throw new DecodeError(
      'unexpected-type',
      `it ends (${period.notAfter.toISOString()}) before it begins (${period.notBefore.toISOString()})`,
    );
  return period;
}

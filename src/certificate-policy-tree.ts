/**
 * Certificate policy processing, RFC 5280 section 6.1 (as RFC 9618 recasts it, and Go's
 * x509.Verify applies it since Go 1.22), for a verifier that asks for no particular policy: the
 * user-initial-policy-set is anyPolicy, and no explicit policy, mapping inhibition or anyPolicy
 * inhibition is asked for at the start. A path then fails only where its own certificates demand
 * an explicit policy (policyConstraints' requireExplicitPolicy) that the path does not keep, or map
 * to or from anyPolicy. OpenSSL's verifier refuses the same paths.
 *
 * A leaf: both the server's start-up chain rules (x509/) and the verification library (verify/),
 * which imports nothing of the server, run it on the policy extensions each has read.
 */

const ANY_POLICY = '2.5.29.32.0';

/** What one certificate says about policies: its four policy extensions, read. */
export interface PolicyExtensions {
  /** certificatePolicies' policy identifiers; undefined without the extension. */
  readonly policies: readonly string[] | undefined;
  /** policyMappings: issuerDomainPolicy → subjectDomainPolicy pairs. */
  readonly mappings: readonly (readonly [string, string])[];
  /** policyConstraints' SkipCerts values. */
  readonly requireExplicitPolicy: number | undefined;
  readonly inhibitPolicyMapping: number | undefined;
  /** inhibitAnyPolicy's SkipCerts. */
  readonly inhibitAnyPolicy: number | undefined;
}

export const NO_POLICY_EXTENSIONS: PolicyExtensions = Object.freeze({
  policies: undefined,
  mappings: Object.freeze([]),
  requireExplicitPolicy: undefined,
  inhibitPolicyMapping: undefined,
  inhibitAnyPolicy: undefined,
});

export interface PathCertificate {
  readonly policyExtensions: PolicyExtensions;
  readonly subjectDer: Buffer;
  readonly issuerDer: Buffer;
}

/**
 * Why the path's policies refuse it, or undefined. `path` runs leaf first, trust anchor last; the
 * anchor takes no part (RFC 5280 section 6.1). The valid_policy_tree is kept as its deepest row
 * only, one node per valid_policy with its expected_policy_set: nodes of a row that share a
 * valid_policy have the same expected set, and the tree is NULL exactly when its deepest row is
 * empty (pruning removes every node without children), which is all the outcome depends on when
 * the user-initial-policy-set is anyPolicy.
 */
export function policyProblem(path: readonly PathCertificate[]): string | undefined {
  const certificates = path.slice(0, -1).reverse();
  const n = certificates.length;
  let explicitPolicy = n + 1;
  let policyMapping = n + 1;
  let inhibitAnyPolicy = n + 1;
  let row: Map<string, Set<string>> | undefined = new Map([[ANY_POLICY, new Set([ANY_POLICY])]]);

  for (const [index, certificate] of certificates.entries()) {
    const extensions = certificate.policyExtensions;
    const isLast = index === n - 1;
    const selfIssued = certificate.subjectDer.equals(certificate.issuerDer);
    // Section 6.1.3 (d), (e): the row below, from the certificate's policies.
    if (row && extensions.policies) {
      const next = new Map<string, Set<string>>();
      for (const policy of extensions.policies) {
        if (policy === ANY_POLICY) continue;
        const expected = [...row.values()].some((set) => set.has(policy)) || row.has(ANY_POLICY);
        if (expected) next.set(policy, new Set([policy]));
      }
      if (
        extensions.policies.includes(ANY_POLICY) &&
        (inhibitAnyPolicy > 0 || (!isLast && selfIssued))
      ) {
        for (const set of row.values())
          for (const policy of set) if (!next.has(policy)) next.set(policy, new Set([policy]));
      }
      row = next.size > 0 ? next : undefined;
    } else {
      row = undefined;
    }
    // (f)
    if (explicitPolicy === 0 && !row) return noValidPolicy();
    if (isLast) {
      // Section 6.1.5 (a), (b)
      if (explicitPolicy > 0) explicitPolicy--;
      if (extensions.requireExplicitPolicy === 0) explicitPolicy = 0;
      break;
    }
    // Section 6.1.4 (a), (b): mappings for the next certificate.
    const mapped = new Map<string, Set<string>>();
    for (const [issuerPolicy, subjectPolicy] of extensions.mappings) {
      if (issuerPolicy === ANY_POLICY || subjectPolicy === ANY_POLICY)
        return 'x509: a certificate of the chain maps a policy to or from anyPolicy (RFC 5280 section 6.1.4)';
      mapped.set(issuerPolicy, (mapped.get(issuerPolicy) ?? new Set()).add(subjectPolicy));
    }
    if (row) {
      for (const [issuerPolicy, subjectPolicies] of mapped) {
        if (policyMapping === 0) row.delete(issuerPolicy);
        else if (row.has(issuerPolicy) || row.has(ANY_POLICY))
          row.set(issuerPolicy, subjectPolicies);
      }
      if (row.size === 0) row = undefined;
    }
    // (h), (i), (j)
    if (!selfIssued) {
      if (explicitPolicy > 0) explicitPolicy--;
      if (policyMapping > 0) policyMapping--;
      if (inhibitAnyPolicy > 0) inhibitAnyPolicy--;
    }
    if (extensions.requireExplicitPolicy !== undefined)
      explicitPolicy = Math.min(explicitPolicy, extensions.requireExplicitPolicy);
    if (extensions.inhibitPolicyMapping !== undefined)
      policyMapping = Math.min(policyMapping, extensions.inhibitPolicyMapping);
    if (extensions.inhibitAnyPolicy !== undefined)
      inhibitAnyPolicy = Math.min(inhibitAnyPolicy, extensions.inhibitAnyPolicy);
  }
  // (g): the user-initial-policy-set is anyPolicy, so the tree stays as it is.
  return explicitPolicy > 0 || row ? undefined : noValidPolicy();
}

function noValidPolicy(): string {
  return 'x509: no valid chains built: all candidate chains have invalid policies (a certificate requires an explicit policy the chain does not keep)';
}

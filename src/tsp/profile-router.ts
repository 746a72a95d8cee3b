import { toHex } from '../asn1/der.js';
import {
  type IssueContext,
  type IssueOutcome,
  type Issuer,
  type RequestFormat,
  type TimestampAuthority,
} from './authority.js';
import type { TimeStampReq } from './request.js';

/** A named profile as the router sees it: its authority and the policies that select it. */
export interface RoutedProfile {
  authority: TimestampAuthority;
  /** Hex of the DER TLVs of its policy OIDs. */
  policies: ReadonlySet<string>;
}

/**
 * POST /api/v1/timestamp of a server with profiles: the request (parsed once) goes to the profile
 * whose policies contain its reqPolicy (DER) or tsaPolicyOID (JSON), else to the default one,
 * whose own policy check refuses a policy no profile accepts (unacceptedPolicy).
 */
export class ProfileRouter implements Issuer {
  readonly cancellable: boolean;
  private readonly byPolicy = new Map<string, TimestampAuthority>();

  constructor(
    private readonly fallback: TimestampAuthority,
    profiles: readonly RoutedProfile[],
  ) {
    for (const { authority, policies } of profiles)
      for (const policy of policies) this.byPolicy.set(policy, authority);
    this.cancellable = [fallback, ...profiles.map((p) => p.authority)].some((a) => a.cancellable);
  }

  /** The authority that answers `request`. */
  route(request: TimeStampReq): TimestampAuthority {
    return (request.reqPolicy && this.byPolicy.get(toHex(request.reqPolicy))) || this.fallback;
  }

  issue(
    body: Uint8Array,
    format: RequestFormat,
    context: IssueContext = {},
  ): Promise<IssueOutcome> {
    // A malformed body is refused as the default profile refuses it.
    const parsed = this.fallback.parse(body, format);
    return 'status' in parsed
      ? Promise.resolve(parsed)
      : this.route(parsed).issueParsed(parsed, context);
  }
}

// The API version of the gateway <-> control-plane contract (proto/weir/gateway/v1).
//
// Breaking changes MUST increment API_MAJOR and move to a new proto package (weir.gateway.v2);
// additive changes MUST increment API_MINOR. Every version gets an entry in API_VERSION_HISTORY
// saying what changed and why. `npm run proto:check` enforces both against the released images
// in proto/versions/.

/** One released (or about to be released) API version. */
export interface ApiVersionHistoryEntry {
  readonly version: string;
  readonly changes: string;
}

export const API_MAJOR = 1;
export const API_MINOR = 1;

/** The version this build speaks, "MAJOR.MINOR". */
export const API_VERSION = `${API_MAJOR}.${API_MINOR}`;

/** Older majors a server still accepts clients of. None yet. */
export const SUPPORTED_OLDER_MAJORS: readonly number[] = [];

/** Version history, oldest first. */
export const API_VERSION_HISTORY: readonly ApiVersionHistoryEntry[] = [
  {
    version: "1.0",
    changes:
      "Initial version. Serves the Recorder, MCPConfigurator and Authorizer services to " +
      "embedded and standalone gateways. IsAuthorized takes key or key_id (mutually exclusive).",
  },
  {
    version: "1.1",
    changes:
      "Takes the control plane off the request hot path (additive; 1.0 gateways keep working " +
      "unchanged). Authorizer.WatchAuthorizationChanges streams invalidations (reset, API key, " +
      "user, gateway key) so gateways can cache IsAuthorized answers and still see a revoked key " +
      "within push latency; IsAuthorizedResponse.key_expires_at bounds a cached answer by the " +
      "key's expiry. Recorder.RecordBatch stores many records per call in one transaction, " +
      "idempotently (records keyed by client-generated ids, per-record rejections), so the " +
      "interception start no longer needs a synchronous RPC. Why: a request cost 6-7 RPCs " +
      "(IsAuthorized, RecordInterception, one per follow-up record), the gateway's dominant cost.",
  },
];

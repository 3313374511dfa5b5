// Test helpers of @weir/gateway ("@weir/gateway/testing"): a fake control plane over real
// HTTP/2, a manually advanced clock and hand-built zstd frames.

export { API_1_1_RPCS, FakeControlPlane, createFakeControlPlane } from "./fake-control-plane.js";
export type {
  FakeAuthFailure,
  FakeAuthorizationChange,
  FakeCall,
  FakeControlPlaneOptions,
  FakeRecordKind,
  FakeRpcMethod,
  FakeUser,
} from "./fake-control-plane.js";
export { FakeClock, createFakeClock, flushMicrotasks } from "./fake-clock.js";
export { ZSTD_CLI_SAMPLE, zstdRleFrame } from "./zstd-samples.js";

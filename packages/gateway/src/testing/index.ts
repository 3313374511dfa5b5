// Test helpers of @weir/gateway ("@weir/gateway/testing"): a fake control plane over real
// HTTP/2 and a manually advanced clock.

export { FakeControlPlane, createFakeControlPlane } from "./fake-control-plane.js";
export type { FakeAuthFailure, FakeCall, FakeControlPlaneOptions, FakeRpcMethod, FakeUser } from "./fake-control-plane.js";
export { FakeClock, createFakeClock, flushMicrotasks } from "./fake-clock.js";

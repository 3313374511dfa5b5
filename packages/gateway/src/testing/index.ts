// Test helpers of @weir/gateway ("@weir/gateway/testing"): a fake control plane over real
// HTTP/2, a manually advanced clock, hand-built zstd frames and the bodies of gateway errors.

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
export { gatewayErrorBody } from "./gateway-error-body.js";
export { chatCompletion } from "./openai-answers.js";
export type { ChatCompletionOptions } from "./openai-answers.js";
export type { ErrorRoute } from "./gateway-error-body.js";
export { ConnectProxy } from "./connect-proxy.js";
export type { ConnectProxyOptions, ProxiedConnect } from "./connect-proxy.js";

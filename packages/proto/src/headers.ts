// HTTP headers every gateway -> control-plane RPC carries (DESIGN §3).

/** The shared gateway key that authenticates a gateway replica. SECURITY: never log it. */
export const GATEWAY_KEY_HEADER = "x-ai-governance-gateway-key";

/** The "MAJOR.MINOR" API version the gateway was built against. */
export const API_VERSION_HEADER = "x-ai-gateway-api-version";

// Error messages both daemons must agree on, where the code alone does not say enough.

/**
 * Sent with ResourceExhausted when every database connection of the control plane stayed busy.
 * ResourceExhausted also means "this message is larger than readMaxBytes", which retrying cannot
 * help; this message tells a gateway that retrying will (a record batch is not dropped).
 */
export const CONTROL_PLANE_BUSY_MESSAGE = "the control plane is busy";

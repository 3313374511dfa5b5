// Recorder.RecordBatch in binary protobuf, decoded by field number (record-envelope-wire.ts)
// instead of by protobuf-es's reflective decoder. It is the same RPC on the same path with the
// same wire format, interceptors and errors: Connect's handler is given a descriptor whose
// request is `repeated bytes records = 1` — on the wire identical to `repeated RecordEnvelope
// records = 1` — and each element is then decoded here. Only binary requests come this way
// (the routing in control-plane.ts asks isBinaryRecordBatch): in JSON a bytes field would be
// base64, so JSON callers keep the generated descriptor.
//
// The descriptor lives in its own internal file (never part of the contract in proto/): it
// cannot import recorder.proto, whose own Recorder service would clash with this one.

import { create, createFileRegistry } from "@bufbuild/protobuf";
import type { Message, MessageInitShape } from "@bufbuild/protobuf";
import type { GenMessage, GenService } from "@bufbuild/protobuf/codegenv2";
import { FieldDescriptorProto_Label, FieldDescriptorProto_Type, FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import { RecordBatchRequestSchema, Recorder } from "@weir/proto";
import type { RecordBatchRequest, RecordEnvelope } from "@weir/proto";
import type { Logger } from "pino";
import { InvalidArgumentError } from "../errors.js";
import { MAX_BATCH_RECORDS } from "../services/record-batch.js";
import { RecorderService } from "../services/recorder.js";
import type { ServiceDeps } from "../services/service-deps.js";
import { mapServiceErrors } from "./connect-errors.js";
import { decodeRecordEnvelope } from "./record-envelope-wire.js";

const PACKAGE = "weir.gateway.v1";
const { OPTIONAL, REPEATED } = FieldDescriptorProto_Label;
const { BYTES, MESSAGE, STRING } = FieldDescriptorProto_Type;

const file = create(FileDescriptorProtoSchema, {
  name: "weir/internal/record_batch_wire.proto",
  package: PACKAGE,
  syntax: "proto3",
  messageType: [
    { name: "RecordBatchWireRequest", field: [{ name: "records", jsonName: "records", number: 1, label: REPEATED, type: BYTES }] },
    {
      name: "RecordBatchWireResponse",
      field: [{ name: "rejected", jsonName: "rejected", number: 1, label: REPEATED, type: MESSAGE, typeName: `.${PACKAGE}.RecordBatchWireRejected` }],
    },
    {
      name: "RecordBatchWireRejected",
      field: [
        { name: "id", jsonName: "id", number: 1, label: OPTIONAL, type: STRING },
        { name: "reason", jsonName: "reason", number: 2, label: OPTIONAL, type: STRING },
      ],
    },
  ],
  service: [
    {
      name: Recorder.name,
      method: [{ name: Recorder.method.recordBatch.name, inputType: `.${PACKAGE}.RecordBatchWireRequest`, outputType: `.${PACKAGE}.RecordBatchWireResponse` }],
    },
  ],
});

type WireRequest = Message<"weir.gateway.v1.RecordBatchWireRequest"> & { records: Uint8Array[] };
type WireRejected = Message<"weir.gateway.v1.RecordBatchWireRejected"> & { id: string; reason: string };
type WireResponse = Message<"weir.gateway.v1.RecordBatchWireResponse"> & { rejected: WireRejected[] };

/** Recorder with RecordBatch only, its records as raw bytes. Its path is RecordBatch's. */
export const RecordBatchWire = createFileRegistry(file, () => undefined).getService(`${PACKAGE}.${Recorder.name}`) as GenService<{
  recordBatch: { methodKind: "unary"; input: GenMessage<WireRequest>; output: GenMessage<WireResponse> };
}>;

/** The HTTP path of Recorder.RecordBatch. */
export const RECORD_BATCH_PATH = `/${Recorder.typeName}/${Recorder.method.recordBatch.name}`;

/** Content types whose messages are binary protobuf (Connect, gRPC, gRPC-web). */
const BINARY_CONTENT_TYPES: ReadonlySet<string> = new Set([
  "application/proto",
  "application/connect+proto",
  "application/grpc",
  "application/grpc+proto",
  "application/grpc-web",
  "application/grpc-web+proto",
]);

/** Whether a request to `path` is a binary RecordBatch call, the one this fast path serves. */
export function isBinaryRecordBatch(method: string | undefined, path: string, contentType: string | undefined): boolean {
  if (method !== "POST" || path !== RECORD_BATCH_PATH || contentType === undefined) return false;
  const semi = contentType.indexOf(";");
  return BINARY_CONTENT_TYPES.has((semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase());
}

/** Registers RecordBatch on `router` with the fast decoding, served by the same RecorderService code. */
export function registerRecordBatchFastPath(router: ConnectRouter, deps: ServiceDeps): ConnectRouter {
  const logger: Logger = deps.logger.child({ component: "rpc" });
  const recorder = new RecorderService(deps);
  const impl = {
    async recordBatch(req: WireRequest, ctx: HandlerContext): Promise<MessageInitShape<GenMessage<WireResponse>>> {
      // Refused before any envelope is decoded, as the service would refuse it after.
      if (req.records.length > MAX_BATCH_RECORDS) throw new InvalidArgumentError("records", `more than ${MAX_BATCH_RECORDS} in one batch`);
      const records: RecordEnvelope[] = [];
      for (const bytes of req.records) records.push(decodeEnvelope(bytes));
      const request: RecordBatchRequest = { $typeName: RecordBatchRequestSchema.typeName, records };
      return recorder.recordBatch(request, ctx);
    },
  };
  return router.service(RecordBatchWire, mapServiceErrors(RecordBatchWire, impl, logger));
}

/** As Connect reports a message it cannot parse (protocol/serialization: "parse binary: …"). */
function decodeEnvelope(bytes: Uint8Array): RecordEnvelope {
  try {
    return decodeRecordEnvelope(bytes);
  } catch (err) {
    throw new ConnectError(`parse binary: ${err instanceof Error ? err.message : String(err)}`, Code.Internal);
  }
}

// Record metadata maps are map<string, google.protobuf.Any> whose values are
// google.protobuf.Value (recorder.proto): the Any type URL both daemons write and check.
export const METADATA_VALUE_TYPE_URL = "type.googleapis.com/google.protobuf.Value";

// The record spool (`--record-spool-dir`): where a replica puts the records its control plane
// did not take by the shutdown deadline, instead of dropping them, and where the next replica
// started on the same directory finds them and delivers them (record-spool-replay.ts). A rolling
// restart during a control-plane outage then loses no interception.
//
// One file per shutdown, named so that names sort oldest first. A file is a magic line followed
// by the records exactly as they go on the wire — each the `records` field's tag and the
// length-prefixed RecordEnvelope (records.ts) — so the bytes after the magic are a valid
// RecordBatchRequest. A file is written under a hidden
// temporary name, synced, renamed into place and the directory synced: a file that has its name
// is whole, and a crash mid-write leaves only a `.tmp` file that is never read.
//
// Files hold what requests recorded (prompts, tool inputs, thoughts): private to the user the
// gateway runs as (0600 in a 0700 directory). They never hold a key: records carry key ids and
// masked hints only.

import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, readdir, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import type { GatewayRecord } from "./records.js";
import { recordFromEnvelope } from "./records.js";

/** The first bytes of every spool file: the format and its version. */
export const SPOOL_MAGIC = Buffer.from("weir-records/1\n", "latin1");
/** How spool files end; nothing else in the directory is read. */
export const SPOOL_FILE_SUFFIX = ".records";
/** Appended to a file that is not a whole spool file, so it is kept for the operator but never read again. */
export const CORRUPT_SUFFIX = ".corrupt";

/** The tag of RecordBatchRequest.records (field 1, length-delimited), written before each envelope. */
const RECORDS_TAG = Buffer.from([(1 << 3) | WireType.LengthDelimited]);

/** Records are written in chunks of about this size (a spool may hold gigabytes of prompts). */
const WRITE_CHUNK_BYTES = 1024 * 1024;

/** A spool file that is not one: wrong magic, a truncated or malformed record. */
export class SpoolFileError extends Error {
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`${path} is not a whole record spool file: ${reason}`);
    this.name = "SpoolFileError";
  }
}

export class RecordSpool {
  constructor(readonly dir: string) {}

  /**
   * Creates the directory (0700) when missing and proves it writable with a file created and
   * removed: at start-up, so a wrong path fails before serving, not at shutdown.
   */
  async prepare(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const probe = join(this.dir, `.probe-${process.pid}-${randomBytes(4).toString("hex")}.tmp`);
    const file = await open(probe, "wx", 0o600);
    await file.close();
    await unlink(probe);
  }

  /** Writes `records`, in order, to a new spool file; it is durable once this resolves. Its path. */
  async write(records: readonly GatewayRecord[]): Promise<string> {
    const name = `records-${String(Date.now()).padStart(15, "0")}-${process.pid}-${randomBytes(4).toString("hex")}${SPOOL_FILE_SUFFIX}`;
    const path = join(this.dir, name);
    const temporary = join(this.dir, `.${name}.tmp`);
    const file = await open(temporary, "wx", 0o600);
    try {
      await file.write(SPOOL_MAGIC);
      let chunk: Uint8Array[] = [];
      let chunkBytes = 0;
      for (const record of records) {
        chunk.push(RECORDS_TAG, record.envelope);
        chunkBytes += RECORDS_TAG.length + record.envelope.length;
        if (chunkBytes >= WRITE_CHUNK_BYTES) {
          await file.write(Buffer.concat(chunk, chunkBytes));
          chunk = [];
          chunkBytes = 0;
        }
      }
      if (chunkBytes > 0) await file.write(Buffer.concat(chunk, chunkBytes));
      await file.sync();
    } catch (err) {
      await file.close().catch(() => undefined);
      await unlink(temporary).catch(() => undefined);
      throw err;
    }
    await file.close();
    await rename(temporary, path);
    await this.syncDirectory();
    return path;
  }

  /** The spool files, oldest first. */
  async list(): Promise<string[]> {
    const names = await readdir(this.dir);
    return names
      .filter((name) => name.endsWith(SPOOL_FILE_SUFFIX) && !name.startsWith("."))
      .sort()
      .map((name) => join(this.dir, name));
  }

  /** The records of one spool file, in order; SpoolFileError when it is not a whole one. */
  async read(path: string): Promise<GatewayRecord[]> {
    const bytes = await readFile(path);
    if (bytes.length < SPOOL_MAGIC.length || !bytes.subarray(0, SPOOL_MAGIC.length).equals(SPOOL_MAGIC)) {
      throw new SpoolFileError(path, "it does not start with the spool header");
    }
    const records: GatewayRecord[] = [];
    const body = bytes.subarray(SPOOL_MAGIC.length);
    const reader = new BinaryReader(body);
    while (reader.pos < reader.len) {
      if (body[reader.pos] !== RECORDS_TAG[0]) throw new SpoolFileError(path, `record ${records.length + 1} does not start with the records tag`);
      const start = reader.pos + 1;
      reader.pos = start;
      try {
        reader.bytes();
      } catch {
        throw new SpoolFileError(path, `record ${records.length + 1} is cut short`);
      }
      try {
        records.push(recordFromEnvelope(body.subarray(start, reader.pos)));
      } catch (err) {
        throw new SpoolFileError(path, `record ${records.length + 1}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    return records;
  }

  /** Removes a spool file whose records were delivered; one already gone is fine. */
  async remove(path: string): Promise<void> {
    try {
      await unlink(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    await this.syncDirectory();
  }

  /** Renames a file that is not a whole spool file out of the way; returns its new path. */
  async quarantine(path: string): Promise<string> {
    const moved = `${path}${CORRUPT_SUFFIX}`;
    await rename(path, moved);
    return moved;
  }

  /** Makes the directory's entries (a rename, an unlink) durable. */
  private async syncDirectory(): Promise<void> {
    const dir = await open(this.dir, "r");
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}

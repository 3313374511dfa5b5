// The record spool (`--record-spool-dir`): where a replica puts the records its control plane
// did not take by the shutdown deadline, instead of dropping them, and where the next replica
// started on the same directory finds them and delivers them (record-spool-replay.ts). A rolling
// restart during a control-plane outage then loses no interception.
//
// Checkpoints (record-checkpoint.ts) use the same files, so a crash leaves what a stop would.
//
// A shutdown writes one file, or several of at most MAX_SPOOL_FILE_BYTES each (a file is read
// whole at replay), named so that names sort oldest first. A file is a magic line followed
// by the records exactly as they go on the wire — each the `records` field's tag and the
// length-prefixed RecordEnvelope (records.ts) — so the bytes after the magic are a valid
// RecordBatchRequest. A file is written under a hidden
// temporary name, synced, renamed into place and the directory synced: a file that has its name
// is whole, and a crash mid-write leaves only a `.tmp` file that is never read.
//
// Files hold what requests recorded (prompts, tool inputs, thoughts): private to the user the
// gateway runs as (0600 in a 0700 directory). They never hold a key: records carry key ids and
// masked hints only. And what is in them is submitted under the replica's gateway key, so a
// directory others could write to (plant records in) is refused.

import { randomBytes } from "node:crypto";
import { open, readFile, readdir, rename, stat, unlink } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { basename, join } from "node:path";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import type { GatewayRecord } from "./records.js";
import { recordFromEnvelope } from "./records.js";
import { makeDirectory } from "./make-directory.js";

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
/** A file is read whole at replay (and Node reads at most 2 GiB at once): beyond this, the next file. */
export const MAX_SPOOL_FILE_BYTES = 256 * 1024 * 1024;

/** Temporary files older than this are writes a crash interrupted: start-up removes them. */
const STALE_TEMPORARY_MS = 10 * 60_000;

/** How a write places and keeps its files. */
export interface SpoolWriteOptions {
  /**
   * A spool file whose records (what is left of them) these are: the new files are named to sort
   * where it did — before its later parts — so a replay keeps every interception's order.
   */
  readonly inPlaceOf?: string;
  /** On failure, remove the files already written (a checkpoint: the previous one still covers them). */
  readonly allOrNothing?: boolean;
}

/** A write that failed part-way: the first `written` records are in `paths`, durable. */
export class SpoolWriteError extends Error {
  constructor(
    readonly written: number,
    readonly paths: readonly string[],
    options: { cause: unknown },
  ) {
    super(`the record spool took ${written} records, then failed: ${options.cause instanceof Error ? options.cause.message : String(options.cause)}`, options);
    this.name = "SpoolWriteError";
  }
}

/** Whether a file system error says the file is not there (another replica took it, say). */
export function isFileGone(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
}

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
  /**
   * @param now the clock file names are taken from (milliseconds since the epoch)
   * @param maxFileBytes where a shutdown's records go on into a further file
   */
  constructor(
    readonly dir: string,
    private readonly now: () => number = Date.now,
    private readonly maxFileBytes: number = MAX_SPOOL_FILE_BYTES,
  ) {}

  /**
   * Creates the directory (0700) when missing, refuses one that another user owns or that group
   * or others may write to, and proves it writable with a file created and removed: at start-up,
   * so a wrong path fails before serving, not at shutdown.
   */
  async prepare(): Promise<void> {
    await makeDirectory(this.dir, 0o700);
    const info = await stat(this.dir);
    if (!info.isDirectory()) throw new Error("not a directory");
    const uid = process.getuid?.();
    if (uid !== undefined && info.uid !== uid) throw new Error(`it is owned by uid ${info.uid}, not by this process's uid ${uid}: its files would be submitted under this gateway's key`);
    if ((info.mode & 0o022) !== 0) {
      throw new Error(`group or others may write to it (mode ${(info.mode & 0o777).toString(8).padStart(4, "0")}): records planted there would be submitted under this gateway's key; chmod 700 it`);
    }
    const probe = join(this.dir, `.probe-${process.pid}-${randomBytes(4).toString("hex")}.tmp`);
    const file = await open(probe, "wx", 0o600);
    await file.close();
    await unlink(probe);
    await this.removeStaleTemporaries();
  }

  /**
   * Removes the spool's own temporary files a crash left mid-write (old enough that no running
   * write owns them: a write touches its file every chunk). Best effort: anything else is left.
   */
  private async removeStaleTemporaries(): Promise<void> {
    for (const name of await readdir(this.dir)) {
      if (!/^\.(records-.*\.records|probe-.*)\.tmp$/.test(name)) continue;
      const path = join(this.dir, name);
      try {
        const info = await stat(path);
        if (info.isFile() && this.now() - info.mtimeMs > STALE_TEMPORARY_MS) await unlink(path);
      } catch {
        // Gone already, or not ours to remove: left as it is.
      }
    }
  }

  /**
   * Writes `records`, in order, to new spool files (one unless they pass maxFileBytes); they are
   * durable once this resolves. Their paths, in order. A failure part-way is a SpoolWriteError
   * (unless allOrNothing).
   */
  async write(records: readonly GatewayRecord[], options: SpoolWriteOptions = {}): Promise<string[]> {
    const random = randomBytes(4).toString("hex");
    const stem =
      options.inPlaceOf === undefined ? `records-${String(this.now()).padStart(15, "0")}-${process.pid}-${random}` : inPlaceStem(basename(options.inPlaceOf, SPOOL_FILE_SUFFIX), random);
    const paths: string[] = [];
    let next = 0;
    try {
      while (next < records.length) {
        const name = `${stem}-${String(paths.length + 1).padStart(4, "0")}${SPOOL_FILE_SUFFIX}`;
        const written = await this.writeFile(name, records, next);
        paths.push(join(this.dir, name));
        next = written;
      }
      await this.syncDirectory();
    } catch (err) {
      if (options.allOrNothing) {
        for (const path of paths) await unlink(path).catch(() => undefined);
        throw err;
      }
      // The files already renamed are whole; their names must survive a crash too.
      if (paths.length > 0) await this.syncDirectory().catch(() => undefined);
      throw new SpoolWriteError(next, paths, { cause: err });
    }
    return paths;
  }

  /** Writes records from `first` on into one file, up to maxFileBytes (at least one record); the index after the last. */
  private async writeFile(name: string, records: readonly GatewayRecord[], first: number): Promise<number> {
    const temporary = join(this.dir, `.${name}.tmp`);
    const file = await open(temporary, "wx", 0o600);
    let next = first;
    try {
      await writeAll(file, SPOOL_MAGIC);
      let fileBytes = SPOOL_MAGIC.length;
      let chunk: Uint8Array[] = [];
      let chunkBytes = 0;
      for (; next < records.length; next++) {
        const { envelope } = records[next]!;
        const size = RECORDS_TAG.length + envelope.length;
        if (next > first && fileBytes + size > this.maxFileBytes) break;
        chunk.push(RECORDS_TAG, envelope);
        chunkBytes += size;
        fileBytes += size;
        if (chunkBytes >= WRITE_CHUNK_BYTES) {
          await writeAll(file, Buffer.concat(chunk, chunkBytes));
          chunk = [];
          chunkBytes = 0;
        }
      }
      if (chunkBytes > 0) await writeAll(file, Buffer.concat(chunk, chunkBytes));
      await file.sync();
    } catch (err) {
      await file.close().catch(() => undefined);
      await unlink(temporary).catch(() => undefined);
      throw err;
    }
    await file.close();
    await rename(temporary, join(this.dir, name));
    return next;
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
      if (!isFileGone(err)) throw err;
    }
    await this.syncDirectory();
  }

  /** Renames a file that is not a whole spool file out of the way; returns its new path. Throws ENOENT when it is gone. */
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

/** Writes all of `bytes` at the file's position: a write may take fewer bytes than given (a full disk). */
async function writeAll(file: FileHandle, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await file.write(bytes, offset, bytes.length - offset);
    if (bytesWritten <= 0) throw new Error("the spool file took no more bytes");
    offset += bytesWritten;
  }
}

/**
 * The stem of files written in place of the file `name`: `<root>~<generation>-<random>`, where
 * root is the name of the file first interrupted and the generation counts down from 999999 with
 * each interruption of its replacements — so each new generation sorts before the parts of the
 * one it replaces and before the root's later parts, and names stay the same length however often
 * replays are cut short. The random part keeps two replicas superseding one file apart.
 */
function inPlaceStem(name: string, random: string): string {
  const replaced = /^(.*)~(\d{6})-[0-9a-f]{8}-\d{4}$/.exec(name);
  const root = replaced?.[1] ?? name;
  const generation = replaced === null ? 999_999 : Math.max(0, Number(replaced[2]) - 1);
  return `${root}~${String(generation).padStart(6, "0")}-${random}`;
}


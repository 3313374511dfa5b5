// weir interceptions list|show — recorded traffic, over the admin API (the reference's
// `coder aibridge interceptions list`). `list` prints one page, newest first, as a table (JSON
// with --json, with the cursor of the next page); --all follows the cursor to the last page.
import { Command, Option } from "commander";
import { isUuid } from "@weir/proto";
import type { AdminClient } from "../admin-client.js";
import { addAdminOptions, adminClient, type AdminFlags } from "../admin-options.js";
import { CliError } from "../cli-error.js";
import { jsonOption } from "../env-options.js";
import { printList, type Cell } from "../table.js";
import { findInitiator, listInitiators } from "../users-lookup.js";

/** The fields of an interception the table shows (the API answers many more; --json has all). */
interface Interception {
  id: string;
  initiator_id: string;
  provider: string;
  model: string;
  client: string;
  started_at: string;
  ended_at: string | null;
  error_type: string | null;
  token_usages: { input_tokens: number; output_tokens: number; cache_read_input_tokens: number; cache_write_input_tokens: number }[];
  tool_usages: unknown[];
}

interface Page {
  interceptions: Interception[];
  next_cursor?: string;
}

interface ListFlags extends AdminFlags {
  initiator?: string;
  provider?: string;
  model?: string;
  client?: string;
  startedAfter?: string;
  startedBefore?: string;
  limit: string;
  after?: string;
  all?: boolean;
  json?: boolean;
}

/** The API's largest page. */
const MAX_LIMIT = 100;
const LIST_PATH = "/api/v2/ai-gateway/interceptions";

export function interceptionsCommand(): Command {
  const interceptions = new Command("interceptions").description("read recorded LLM traffic (interceptions with prompts, token usages, tool usages, thoughts)");

  addAdminOptions(
    interceptions
      .command("list")
      .alias("ls")
      .description("list recorded interceptions, newest first")
      .addOption(new Option("--initiator <username-or-id>", "only this user's interceptions").env("WEIR_INTERCEPTIONS_INITIATOR"))
      .addOption(new Option("--provider <name>", "only this provider (openai, anthropic)").env("WEIR_INTERCEPTIONS_PROVIDER"))
      .addOption(new Option("--model <model>", "only this model").env("WEIR_INTERCEPTIONS_MODEL"))
      .addOption(new Option("--client <client>", 'only this client, as recorded (e.g. "Claude Code", Codex, Cursor, Unknown)').env("WEIR_INTERCEPTIONS_CLIENT"))
      .addOption(new Option("--started-after <time>", "only interceptions started at or after this RFC 3339 time").env("WEIR_INTERCEPTIONS_STARTED_AFTER"))
      .addOption(new Option("--started-before <time>", "only interceptions started before this RFC 3339 time").env("WEIR_INTERCEPTIONS_STARTED_BEFORE"))
      .addOption(new Option("--limit <n>", `interceptions per page, 1 to ${MAX_LIMIT}`).env("WEIR_INTERCEPTIONS_LIMIT").default("25"))
      .addOption(new Option("--after <cursor>", "the page after this cursor (next_cursor of the previous page)").env("WEIR_INTERCEPTIONS_AFTER"))
      .addOption(new Option("--all", "follow the cursor through every page").env("WEIR_INTERCEPTIONS_ALL").conflicts("after"))
      .addOption(jsonOption()),
  ).action(async (flags: ListFlags) => {
    const limit = parseLimit(flags.limit);
    const client = adminClient(flags);
    // Users are read only when needed: to find an initiator by name, or to name initiators in the table.
    const byName = flags.initiator !== undefined && !isUuid(flags.initiator);
    // Deleted users too: their traffic is still recorded, and is what an audit looks for.
    const users = byName || !flags.json ? await listInitiators(client) : [];
    const query = new URLSearchParams();
    // A user id goes through as it is.
    if (flags.initiator !== undefined) query.set("initiator", byName ? findInitiator(flags.initiator, users).id : flags.initiator);
    for (const [name, value] of [
      ["provider", flags.provider],
      ["model", flags.model],
      ["client", flags.client],
      ["started_after", flags.startedAfter],
      ["started_before", flags.startedBefore],
    ] as const) {
      if (value !== undefined) query.set(name, value);
    }
    query.set("limit", String(flags.all ? MAX_LIMIT : limit));
    if (flags.after !== undefined) query.set("after", flags.after);

    // A deleted user's name may belong to someone else now: marked.
    const usernames = new Map(users.map((u) => [u.id, u.deleted === true ? `${u.username} (deleted)` : u.username]));
    if (flags.all) {
      await printAllPages(client, query, flags.json ?? false, usernames);
      return;
    }
    const page = await client.get<Page>(`${LIST_PATH}?${query}`);
    printList(flags.json ?? false, page, TABLE_HEADERS, page.interceptions.map((i) => row(i, usernames)));
    // The table goes to stdout; how to get the next page goes to stderr, so a pipe sees only rows.
    if (!flags.json && page.next_cursor !== undefined) process.stderr.write(`more: --after ${page.next_cursor}\n`);
  });

  addAdminOptions(interceptions.command("show").description("print one interception with everything recorded for it, as JSON").argument("<id>")).action(
    async (id: string, flags: AdminFlags) => {
      const interception = await adminClient(flags).get<unknown>(`${LIST_PATH}/${encodeURIComponent(id)}`);
      process.stdout.write(`${JSON.stringify(interception, null, 2)}\n`);
    },
  );
  return interceptions;
}

function parseLimit(text: string): number {
  const n = /^[0-9]{1,3}$/.test(text.trim()) ? Number(text) : NaN;
  if (!(n >= 1 && n <= MAX_LIMIT)) throw new CliError(`--limit must be an integer from 1 to ${MAX_LIMIT}, got ${JSON.stringify(text)}`);
  return n;
}

const TABLE_HEADERS = ["id", "started at", "user", "provider", "model", "client", "input", "output", "cached", "tools", "status"];

/**
 * Every page, following the cursor. JSON is written page by page as `{"interceptions": [...]}`
 * (one interception a line), so an export of months of prompts never sits in memory whole; the
 * table keeps only its short cells.
 */
async function printAllPages(client: AdminClient, query: URLSearchParams, json: boolean, usernames: ReadonlyMap<string, string>): Promise<void> {
  const rows: Cell[][] = [];
  let first = true;
  if (json) process.stdout.write('{"interceptions": [');
  for (;;) {
    const page = await client.get<Page>(`${LIST_PATH}?${query}`);
    for (const interception of page.interceptions) {
      if (json) {
        await write(`${first ? "" : ","}\n${JSON.stringify(interception)}`);
        first = false;
      } else {
        rows.push(row(interception, usernames));
      }
    }
    if (page.next_cursor === undefined) break;
    query.set("after", page.next_cursor);
  }
  if (json) process.stdout.write("\n]}\n");
  else printList(false, undefined, TABLE_HEADERS, rows);
}

/** Writes to stdout, waiting while a slow reader (a pipe) has not taken the previous writes. */
function write(text: string): Promise<void> | void {
  if (process.stdout.write(text)) return;
  return new Promise((resolve) => process.stdout.once("drain", () => resolve()));
}

function row(i: Interception, usernames: ReadonlyMap<string, string>): Cell[] {
  const sum = (pick: (u: Interception["token_usages"][number]) => number) => i.token_usages.reduce((n, u) => n + pick(u), 0);
  const status = i.ended_at === null ? "in flight" : (i.error_type ?? "ok");
  return [
    i.id,
    i.started_at,
    usernames.get(i.initiator_id) ?? i.initiator_id,
    i.provider,
    i.model,
    i.client || null,
    sum((u) => u.input_tokens),
    sum((u) => u.output_tokens),
    sum((u) => u.cache_read_input_tokens),
    i.tool_usages.length,
    status,
  ];
}

// Summarises V8 .cpuprofile files (written by `node --cpu-prof`): self time by module and the
// hottest functions, idle time excluded.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples?: readonly number[];
  readonly timeDeltas?: readonly number[];
}

export interface ProfileSummary {
  readonly process: string;
  /** Sampled time that was not idle, in ms. */
  readonly busyMs: number;
  readonly modules: readonly { readonly name: string; readonly ms: number; readonly percent: number }[];
  readonly functions: readonly { readonly name: string; readonly ms: number; readonly percent: number }[];
  /** Weir's own functions (packages/NAME/dist) by inclusive time: themselves plus everything they call. */
  readonly weirInclusive: readonly { readonly name: string; readonly ms: number; readonly percent: number }[];
}

function moduleOf(frame: ProfileNode["callFrame"]): string {
  const { url, functionName } = frame;
  if (url === "") {
    if (functionName === "(garbage collector)") return "(garbage collector)";
    if (functionName === "(program)") return "(program: V8/native)";
    if (functionName === "(idle)") return "(idle)";
    return functionName === "" ? "(native)" : `(native) ${functionName}`;
  }
  if (url.startsWith("node:")) {
    const parts = url.slice(5).split("/");
    return `node:${parts.slice(0, parts[0] === "internal" ? 2 : 1).join("/")}`;
  }
  const nm = url.lastIndexOf("/node_modules/");
  if (nm >= 0) {
    const rest = url.slice(nm + "/node_modules/".length).split("/");
    return rest[0]?.startsWith("@") ? `${rest[0]}/${rest[1] ?? ""}` : (rest[0] ?? url);
  }
  const pkg = /\/packages\/([^/]+)\/dist\/(.+)$/.exec(url);
  if (pkg) return `@weir/${pkg[1]} ${pkg[2]}`;
  return url.slice(url.lastIndexOf("/") + 1);
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf("/node_modules/");
  if (nm >= 0) return url.slice(nm + "/node_modules/".length);
  const pkg = /\/packages\/([^/]+\/dist\/.+)$/.exec(url);
  if (pkg) return pkg[1] ?? url;
  return url.replace(/^node:/, "node:");
}

export function summarizeProfile(processName: string, profile: CpuProfile, top = 15): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const id = samples[i]!;
    self.set(id, (self.get(id) ?? 0) + Math.max(0, deltas[i] ?? 0));
  }
  const modules = new Map<string, number>();
  const functions = new Map<string, number>();
  let busyUs = 0;
  for (const [id, us] of self) {
    const node = byId.get(id);
    if (node === undefined) continue;
    const mod = moduleOf(node.callFrame);
    if (mod === "(idle)" || node.callFrame.functionName === "(root)") continue;
    busyUs += us;
    modules.set(mod, (modules.get(mod) ?? 0) + us);
    const f = node.callFrame;
    const fname = f.url === "" ? mod : `${f.functionName || "(anonymous)"} ${shortUrl(f.url)}:${f.lineNumber + 1}`;
    functions.set(fname, (functions.get(fname) ?? 0) + us);
  }
  // Inclusive time of Weir's own frames: each sample counts once for every distinct Weir
  // function on its stack.
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  const weir = new Map<string, number>();
  for (const [id, us] of self) {
    const leaf = byId.get(id);
    if (leaf === undefined || moduleOf(leaf.callFrame) === "(idle)") continue;
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)?.callFrame;
      if (f === undefined || !/\/packages\/[^/]+\/dist\//.test(f.url)) continue;
      const key = `${f.functionName || "(anonymous)"} ${shortUrl(f.url)}:${f.lineNumber + 1}`;
      if (seen.has(key)) continue;
      seen.add(key);
      weir.set(key, (weir.get(key) ?? 0) + us);
    }
  }
  const rank = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: Math.round(us / 100) / 10, percent: busyUs > 0 ? Math.round((us / busyUs) * 1000) / 10 : 0 }));
  return { process: processName, busyMs: Math.round(busyUs / 1000), modules: rank(modules), functions: rank(functions), weirInclusive: rank(weir).slice(0, 10) };
}

/** Summarises the newest .cpuprofile in `dir`, if any. */
export function summarizeProfileDir(processName: string, dir: string): ProfileSummary | undefined {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile")).sort();
  } catch {
    return undefined;
  }
  const last = files[files.length - 1];
  if (last === undefined) return undefined;
  const profile = JSON.parse(readFileSync(join(dir, last), "utf8")) as CpuProfile;
  return summarizeProfile(processName, profile);
}

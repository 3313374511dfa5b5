// The per-interception metrics as plain sums, handed to prom-client when the registry is read.
// prom-client builds and hashes a label string on every call; a finished interception made nine
// of them (prompts, four token types, outcome, in-flight up and down), about 4 % of the
// gateway's CPU under load. Here each is a field increment on the interception's series.

/** One provider, route and model's sums since the registry was last read. */
export interface TalliedSeries {
  readonly provider: string;
  readonly route: string;
  readonly model: string;
  prompts: number;
  /** Interceptions that reported token usage (their counters exist even when a sum is 0). */
  usages: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  completed: number;
  failed: number;
}

/** Interceptions in progress on one provider and route. */
export interface InflightCount {
  readonly provider: string;
  readonly route: string;
  count: number;
}

export interface FinishedInterception {
  readonly provider: string;
  readonly route: string;
  /** Already bounded (LabelValues): it comes from the request body. */
  readonly model: string;
  readonly prompt: boolean;
  readonly usage: { readonly input: number; readonly output: number; readonly cacheRead: number; readonly cacheWrite: number } | undefined;
  readonly failed: boolean;
}

export class InterceptionTally {
  /**
   * provider -> route -> model -> sums since the last drain. Nested maps, so no key string is
   * built per interception; a series stays once seen and is zeroed by each drain.
   */
  private readonly series = new Map<string, Map<string, Map<string, TalliedSeries>>>();
  private readonly inflight = new Map<string, Map<string, InflightCount>>();

  started(provider: string, route: string): void {
    this.inflightOf(provider, route).count += 1;
  }

  ended(provider: string, route: string): void {
    this.inflightOf(provider, route).count -= 1;
  }

  finished(i: FinishedInterception): void {
    const models = child(child(this.series, i.provider), i.route);
    let series = models.get(i.model);
    if (series === undefined) {
      series = { provider: i.provider, route: i.route, model: i.model, prompts: 0, usages: 0, inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, completed: 0, failed: 0 };
      models.set(i.model, series);
    }
    if (i.prompt) series.prompts += 1;
    if (i.usage !== undefined) {
      series.usages += 1;
      series.inputTokens += i.usage.input;
      series.outputTokens += i.usage.output;
      series.cacheReadTokens += i.usage.cacheRead;
      series.cacheWriteTokens += i.usage.cacheWrite;
    }
    if (i.failed) series.failed += 1;
    else series.completed += 1;
  }

  /** Hands each series that counted something since the last drain to `take`, then zeroes it. */
  drain(take: (series: Readonly<TalliedSeries>) => void): void {
    for (const routes of this.series.values()) {
      for (const models of routes.values()) {
        for (const s of models.values()) {
          if (s.completed + s.failed === 0) continue;
          take(s);
          s.prompts = s.usages = s.inputTokens = s.outputTokens = s.cacheReadTokens = s.cacheWriteTokens = s.completed = s.failed = 0;
        }
      }
    }
  }

  /** Every provider and route seen so far, with what is in progress there now. */
  inflightNow(): InflightCount[] {
    const all: InflightCount[] = [];
    for (const routes of this.inflight.values()) all.push(...routes.values());
    return all;
  }

  private inflightOf(provider: string, route: string): InflightCount {
    const routes = child(this.inflight, provider);
    let entry = routes.get(route);
    if (entry === undefined) {
      entry = { provider, route, count: 0 };
      routes.set(route, entry);
    }
    return entry;
  }
}

function child<V>(map: Map<string, Map<string, V>>, key: string): Map<string, V> {
  let inner = map.get(key);
  if (inner === undefined) {
    inner = new Map();
    map.set(key, inner);
  }
  return inner;
}

// The workloads endpoint as a variable's options: where to ask, and how an answer becomes
// options. Kept apart from React and the browser so the tests need neither.
import type { VariableOption } from '@perses-dev/plugin-system';

export const workloadTypes = ['model_serving', 'training', 'notebook', 'pipeline'] as const;
export type WorkloadType = (typeof workloadTypes)[number];

export const workloadTypeLabels: Record<WorkloadType, string> = {
  model_serving: 'Model serving',
  training: 'Training jobs',
  notebook: 'Notebooks',
  pipeline: 'Data science pipelines',
};

export interface OpenShiftAIWorkloadVariableSpec {
  type: WorkloadType;
  // Offered alone when the workloads cannot be listed (no cluster, no access), and added to
  // the list when it lacks it. The templates set it to the instantiated workload, the
  // variable's default value: a variable plugin is given neither its variable's name nor
  // its value (getVariableOptions gets the plugin spec and the variables it depends on).
  fallback?: string;
}

// One item of GET /api/v1/projects/{p}/workloads (extension/workloads), the fields we use.
export interface Workload {
  name: string;
  kind?: string;
  type?: string;
  status?: string;
}

export interface WorkloadList {
  project?: string;
  items?: Workload[];
  hints?: string[];
}

// projectFromPath finds the project of a stock-UI page, /[prefix/]projects/{project}/…
export function projectFromPath(pathname: string): string | undefined {
  const m = /\/projects\/([^/?#]+)/.exec(pathname);
  if (!m || m[1] === undefined) return undefined;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return undefined;
  }
}

// workloadsURL is the workloads endpoint for one type. metrics=false: a picker needs no
// figures, so the server sends no Prometheus query.
export function workloadsURL(apiPrefix: string, project: string, type: WorkloadType): string {
  const prefix = apiPrefix.replace(/\/+$/, '');
  const q = new URLSearchParams({ type, metrics: 'false' });
  return `${prefix}/api/v1/projects/${encodeURIComponent(project)}/workloads?${q.toString()}`;
}

// toOptions maps workloads to options {value: name, label: "name (status)"}, in the server's
// order, a name once (two kinds of one type may share a name: the first one's status is shown).
export function toOptions(items: Workload[]): VariableOption[] {
  const seen = new Set<string>();
  const options: VariableOption[] = [];
  for (const w of items) {
    if (!w || typeof w.name !== 'string' || w.name === '' || seen.has(w.name)) continue;
    seen.add(w.name);
    options.push({ value: w.name, label: w.status ? `${w.name} (${w.status})` : w.name });
  }
  return options;
}

export interface FetchContext {
  apiPrefix: string;
  project: string | undefined;
  fetch: typeof fetch;
}

// fetchWorkloadOptions asks the server for the project's workloads of the spec's type.
export async function fetchWorkloadOptions(
  spec: OpenShiftAIWorkloadVariableSpec,
  ctx: FetchContext,
  signal?: AbortSignal
): Promise<VariableOption[]> {
  if (!workloadTypes.includes(spec.type)) {
    throw new Error(`OpenShift AI workload: unknown type "${String(spec.type)}" (${workloadTypes.join(', ')})`);
  }
  if (!ctx.project) {
    throw new Error('OpenShift AI workload: no project (the variable lists the workloads of a project dashboard)');
  }
  const res = await ctx.fetch(workloadsURL(ctx.apiPrefix, ctx.project, spec.type), {
    signal,
    credentials: 'same-origin',
    headers: { Accept: 'application/json' },
  });
  if (!res.ok) {
    let detail = '';
    try {
      const body = (await res.json()) as { message?: string; error?: string };
      detail = body.message ?? body.error ?? '';
    } catch {
      // not JSON: the status says enough
    }
    throw new Error(`OpenShift AI workload: workloads of ${ctx.project}: HTTP ${res.status}${detail ? `: ${detail}` : ''}`);
  }
  const body = (await res.json()) as WorkloadList;
  return toOptions(Array.isArray(body.items) ? body.items : []);
}

// workloadVariableOptions is the variable's options: the project's workloads of the type,
// with the spec's fallback among them; when they cannot be listed (the endpoint fails, as
// without a cluster, or no project), the fallback alone, so the dashboard keeps showing and
// querying its workload. Without a fallback the failure is the variable's error.
export async function workloadVariableOptions(
  spec: OpenShiftAIWorkloadVariableSpec,
  ctx: FetchContext,
  signal?: AbortSignal,
  warn: (message: string) => void = () => {}
): Promise<VariableOption[]> {
  const fallback = typeof spec.fallback === 'string' && spec.fallback !== '' ? spec.fallback : undefined;
  let options: VariableOption[];
  try {
    options = await fetchWorkloadOptions(spec, ctx, signal);
  } catch (e) {
    if (fallback === undefined || signal?.aborted) throw e;
    warn(`${e instanceof Error ? e.message : String(e)}; offering "${fallback}" alone`);
    return [{ value: fallback, label: fallback }];
  }
  if (fallback !== undefined && !options.some((o) => o.value === fallback)) {
    options.push({ value: fallback, label: fallback });
  }
  return options;
}

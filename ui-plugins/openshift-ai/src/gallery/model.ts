// The template gallery's data: the templates API (extension/templates) and the workloads API
// (extension/workloads), and the pure rules of the form. No React here, so the tests need none.
import { WorkloadType, workloadTypes } from '../workloads';

export interface TemplateVariable {
  name: string;
  type: string;
  required: boolean;
  label?: string;
  description?: string;
  default?: string;
}

export interface Template {
  id: string;
  name: string;
  description: string;
  category: string;
  variables: TemplateVariable[];
}

export interface InstantiateRequest {
  dashboard_name: string;
  display_name?: string;
  variables: Record<string, string>;
}

// workloadVariable is the variable a workload picker fills: the template's first required
// variable, when the template's category is a workload type.
export function workloadVariable(t: Template): TemplateVariable | undefined {
  if (!workloadTypes.includes(t.category as WorkloadType)) return undefined;
  return t.variables.find((v) => v.required);
}

// defaultDashboardName is "<template>-<workload>", made a Perses name (lower-case letters,
// digits, "-", at most 75 characters).
export function defaultDashboardName(templateID: string, workload: string): string {
  const base = workload ? `${templateID}-${workload}` : templateID;
  return base
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 75);
}

// initialValues are the form's first values: each variable's default, or empty.
export function initialValues(t: Template): Record<string, string> {
  const v: Record<string, string> = {};
  for (const x of t.variables) v[x.name] = x.default ?? '';
  return v;
}

// instantiateRequest is the body of POST …/templates/{id}/instantiate: empty optional
// variables are left out (the server applies their defaults), the display name when given.
export function instantiateRequest(
  t: Template,
  dashboardName: string,
  displayName: string,
  values: Record<string, string>
): InstantiateRequest {
  const variables: Record<string, string> = {};
  for (const x of t.variables) {
    const value = (values[x.name] ?? '').trim();
    if (value !== '' || x.required) variables[x.name] = value;
  }
  const body: InstantiateRequest = { dashboard_name: dashboardName.trim(), variables };
  if (displayName.trim() !== '') body.display_name = displayName.trim();
  return body;
}

export function apiPath(prefix: string, path: string): string {
  return `${prefix.replace(/\/+$/, '')}${path}`;
}

export function instantiateURL(prefix: string, project: string, templateID: string): string {
  return apiPath(prefix, `/api/v1/projects/${encodeURIComponent(project)}/templates/${encodeURIComponent(templateID)}/instantiate`);
}

// dashboardPath is the stock UI's page of a dashboard.
export function dashboardPath(prefix: string, project: string, name: string): string {
  return apiPath(prefix, `/projects/${encodeURIComponent(project)}/dashboards/${encodeURIComponent(name)}`);
}

// errorMessage reads the message of an error answer ({"message"} from upstream and ours).
export async function errorMessage(res: Response): Promise<string> {
  try {
    const body = (await res.json()) as { message?: string; error?: string };
    return body.message ?? body.error ?? `HTTP ${res.status}`;
  } catch {
    return `HTTP ${res.status}`;
  }
}

// The template gallery: the four workload templates, a form for each one's variables (a
// workload picker from the project's workloads, else a text field), and Create, which
// instantiates the template in the project and opens the new dashboard in the stock UI.
import { FormEvent, ReactElement, useEffect, useMemo, useState } from 'react';
import {
  Box,
  Button,
  Card,
  CardActions,
  CardContent,
  Chip,
  Container,
  MenuItem,
  Stack,
  TextField,
  Typography,
} from '@mui/material';
// Deep imports: the package's index pulls in charts whose peers it does not declare.
import { ErrorAlert } from '@perses-dev/components/dist/ErrorAlert';
import { WorkloadType, workloadTypeLabels, workloadsURL, Workload, WorkloadList } from '../workloads';
import {
  apiPath,
  dashboardPath,
  defaultDashboardName,
  errorMessage,
  initialValues,
  instantiateRequest,
  instantiateURL,
  Template,
  workloadVariable,
} from './model';

const prefix = window.PERSES_APP_CONFIG?.api_prefix ?? '';

async function getJSON<T>(path: string): Promise<T> {
  const res = await fetch(path, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  if (!res.ok) throw new Error(await errorMessage(res));
  return (await res.json()) as T;
}

// useWorkloads lists the project's workloads of a type; undefined while asking, and an
// error (the picker falls back to a text field) when the list cannot be had.
function useWorkloads(project: string, type: string | undefined): { items?: Workload[]; error?: string } {
  const [state, setState] = useState<{ items?: Workload[]; error?: string }>({});
  useEffect(() => {
    if (!project || !type) return;
    let live = true;
    setState({});
    getJSON<WorkloadList>(workloadsURL(prefix, project, type as WorkloadType))
      .then((l) => live && setState({ items: l.items ?? [] }))
      .catch((e: Error) => live && setState({ error: e.message }));
    return () => {
      live = false;
    };
  }, [project, type]);
  return state;
}

function TemplateForm({ template, project }: { template: Template; project: string }): ReactElement {
  const picked = workloadVariable(template);
  const workloads = useWorkloads(project, picked ? template.category : undefined);
  const [values, setValues] = useState(() => initialValues(template));
  const [name, setName] = useState('');
  const [nameEdited, setNameEdited] = useState(false);
  const [displayName, setDisplayName] = useState('');
  const [error, setError] = useState<Error | undefined>();
  const [busy, setBusy] = useState(false);

  const workload = picked ? (values[picked.name] ?? '') : '';
  const dashboardName = nameEdited ? name : defaultDashboardName(template.id, workload);
  const pickable = picked && workloads.items && workloads.items.length > 0;

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const res = await fetch(instantiateURL(prefix, project, template.id), {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify(instantiateRequest(template, dashboardName, displayName, values)),
      });
      if (!res.ok) throw new Error(await errorMessage(res));
      const created = (await res.json()) as { metadata?: { name?: string } };
      window.location.assign(dashboardPath(prefix, project, created.metadata?.name ?? dashboardName));
    } catch (err) {
      setError(err as Error);
      setBusy(false);
    }
  };

  return (
    <Box component="form" onSubmit={submit} data-testid={`form-${template.id}`} sx={{ mt: 2 }}>
      <Stack spacing={2}>
        {template.variables.map((v) => {
          const label = v.label ?? v.name;
          const set = (value: string): void => setValues((old) => ({ ...old, [v.name]: value }));
          if (v === picked && pickable) {
            return (
              <TextField
                key={v.name}
                select
                required={v.required}
                label={label}
                name={v.name}
                value={values[v.name] ?? ''}
                onChange={(e) => set(e.target.value)}
                helperText={`${workloadTypeLabels[template.category as WorkloadType]} of ${project}`}
              >
                {workloads.items!.map((w) => (
                  <MenuItem key={`${w.kind}/${w.name}`} value={w.name}>
                    {w.status ? `${w.name} (${w.status})` : w.name}
                  </MenuItem>
                ))}
              </TextField>
            );
          }
          const fallback =
            v === picked && workloads.error ? `Workloads unavailable (${workloads.error}): type the name.` : undefined;
          return (
            <TextField
              key={v.name}
              required={v.required}
              label={label}
              name={v.name}
              value={values[v.name] ?? ''}
              onChange={(e) => set(e.target.value)}
              helperText={fallback ?? v.description}
            />
          );
        })}
        <TextField
          required
          label="Dashboard name"
          name="dashboard_name"
          value={dashboardName}
          onChange={(e) => {
            setNameEdited(true);
            setName(e.target.value);
          }}
          helperText="The dashboard's name in the project (lower-case letters, digits, -)"
        />
        <TextField
          label="Display name"
          name="display_name"
          value={displayName}
          onChange={(e) => setDisplayName(e.target.value)}
          helperText="Optional: the template names it after the workload"
        />
        {error && <ErrorAlert error={error} />}
        <Box>
          <Button type="submit" variant="contained" disabled={busy || !project}>
            Create
          </Button>
        </Box>
      </Stack>
    </Box>
  );
}

export function App(): ReactElement {
  const [templates, setTemplates] = useState<Template[] | undefined>();
  const [projects, setProjects] = useState<string[]>([]);
  const [project, setProject] = useState(() => new URLSearchParams(window.location.search).get('project') ?? '');
  const [open, setOpen] = useState<string | undefined>();
  const [error, setError] = useState<Error | undefined>();

  useEffect(() => {
    getJSON<Template[]>(apiPath(prefix, '/api/v1/templates')).then(setTemplates, setError);
    getJSON<Array<{ metadata: { name: string } }>>(apiPath(prefix, '/api/v1/projects')).then(
      (ps) => {
        const names = ps.map((p) => p.metadata.name).sort();
        setProjects(names);
        setProject((p) => p || names[0] || '');
      },
      () => setProjects([])
    );
  }, []);

  const projectChoices = useMemo(
    () => (project && !projects.includes(project) ? [project, ...projects] : projects),
    [project, projects]
  );

  return (
    <Container maxWidth="md" sx={{ py: 3 }}>
      <Stack direction="row" alignItems="center" justifyContent="space-between" sx={{ mb: 3 }}>
        <Typography variant="h1" sx={{ fontSize: '1.75rem' }}>
          Dashboard templates
        </Typography>
        <TextField
          select
          size="small"
          label="Project"
          value={project}
          onChange={(e) => setProject(e.target.value)}
          sx={{ minWidth: 200 }}
          inputProps={{ 'data-testid': 'project' }}
        >
          {projectChoices.map((p) => (
            <MenuItem key={p} value={p}>
              {p}
            </MenuItem>
          ))}
        </TextField>
      </Stack>
      {error && <ErrorAlert error={error} />}
      <Stack spacing={2}>
        {templates?.map((t) => (
          <Card key={t.id} variant="outlined" data-testid={`template-${t.id}`}>
            <CardContent>
              <Stack direction="row" spacing={1} alignItems="center">
                <Typography variant="h2" sx={{ fontSize: '1.25rem' }}>
                  {t.name}
                </Typography>
                <Chip size="small" label={workloadTypeLabels[t.category as WorkloadType] ?? t.category} />
              </Stack>
              <Typography variant="body2" color="text.secondary" sx={{ mt: 1 }}>
                {t.description}
              </Typography>
              {open === t.id && <TemplateForm key={`${t.id}/${project}`} template={t} project={project} />}
            </CardContent>
            {open !== t.id && (
              <CardActions>
                <Button onClick={() => setOpen(t.id)}>Use this template</Button>
              </CardActions>
            )}
          </Card>
        ))}
      </Stack>
    </Container>
  );
}

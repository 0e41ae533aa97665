// OpenShiftAIWorkloadVariable: a dashboard variable whose values are the project's OpenShift AI
// workloads of one type (model servers, training jobs, notebooks, pipelines).
import { ReactElement } from 'react';
import { MenuItem, TextField } from '@mui/material';
import type { OptionsEditorProps, VariablePlugin } from '@perses-dev/plugin-system';
import {
  OpenShiftAIWorkloadVariableSpec,
  projectFromPath,
  workloadTypeLabels,
  workloadTypes,
  WorkloadType,
  workloadVariableOptions,
} from './workloads';

declare global {
  interface Window {
    PERSES_APP_CONFIG?: { api_prefix?: string };
  }
}

function OpenShiftAIWorkloadVariableEditor(props: OptionsEditorProps<OpenShiftAIWorkloadVariableSpec>): ReactElement {
  const { value, onChange, isReadonly } = props;
  return (
    <TextField
      select
      fullWidth
      label="Workload type"
      value={value.type ?? 'model_serving'}
      onChange={(e) => onChange({ ...value, type: e.target.value as WorkloadType })}
      slotProps={{ input: { readOnly: isReadonly } }}
    >
      {workloadTypes.map((t) => (
        <MenuItem key={t} value={t}>
          {workloadTypeLabels[t]}
        </MenuItem>
      ))}
    </TextField>
  );
}

export const OpenShiftAIWorkloadVariable: VariablePlugin<OpenShiftAIWorkloadVariableSpec> = {
  // The plugin context carries no project: the dashboard's page does (/projects/{p}/dashboards/…).
  // When the workloads cannot be listed, the spec's fallback is the only option.
  getVariableOptions: async (spec, _ctx, abortSignal) => {
    const data = await workloadVariableOptions(
      spec,
      {
        apiPrefix: window.PERSES_APP_CONFIG?.api_prefix ?? '',
        project: projectFromPath(window.location.pathname),
        fetch: (input, init) => fetch(input, init),
      },
      abortSignal,
      (message) => console.warn(`OpenShift AI workload variable: ${message}`)
    );
    return { data };
  },
  dependsOn: () => ({ variables: [] }),
  OptionsEditorComponent: OpenShiftAIWorkloadVariableEditor,
  createInitialOptions: () => ({ type: 'model_serving' }),
};

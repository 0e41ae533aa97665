import { describe, expect, it } from 'vitest';
import { dashboardPath, defaultDashboardName, instantiateRequest, instantiateURL, initialValues, Template, workloadVariable } from './model';

const training: Template = {
  id: 'training',
  name: 'Training job',
  description: '',
  category: 'training',
  variables: [
    { name: 'job_name', type: 'kubernetes_name', required: true },
    { name: 'loss_metric', type: 'metric_name', required: false, default: 'training_loss' },
  ],
};

describe('gallery model', () => {
  it('picks the first required variable of a workload template', () => {
    expect(workloadVariable(training)?.name).toBe('job_name');
    expect(workloadVariable({ ...training, category: 'other' })).toBeUndefined();
    expect(workloadVariable({ ...training, variables: [] })).toBeUndefined();
  });

  it.each([
    ['model-serving', 'granite', 'model-serving-granite'],
    ['model-serving', 'ibm-granite/Granite-3.1-8B', 'model-serving-ibm-granite-granite-3-1-8b'],
    ['training', '', 'training'],
    ['notebook', 'x'.repeat(100), ('notebook-' + 'x'.repeat(100)).slice(0, 75)],
  ])('default name of %s for %s', (id, workload, want) => {
    expect(defaultDashboardName(id, workload)).toBe(want);
  });

  it('fills defaults, drops empty optional variables, keeps empty required ones for the server to name', () => {
    expect(initialValues(training)).toEqual({ job_name: '', loss_metric: 'training_loss' });
    expect(instantiateRequest(training, ' t1 ', '', { job_name: ' job-1 ', loss_metric: '' })).toEqual({
      dashboard_name: 't1',
      variables: { job_name: 'job-1' },
    });
    expect(instantiateRequest(training, 't1', 'My job', { loss_metric: 'loss' })).toEqual({
      dashboard_name: 't1',
      display_name: 'My job',
      variables: { job_name: '', loss_metric: 'loss' },
    });
  });

  it('builds the URLs', () => {
    expect(instantiateURL('', 'team-a', 'model-serving')).toBe('/api/v1/projects/team-a/templates/model-serving/instantiate');
    expect(instantiateURL('/perses/', 'a b', 'x')).toBe('/perses/api/v1/projects/a%20b/templates/x/instantiate');
    expect(dashboardPath('', 'team-a', 'model-serving-granite')).toBe('/projects/team-a/dashboards/model-serving-granite');
  });
});

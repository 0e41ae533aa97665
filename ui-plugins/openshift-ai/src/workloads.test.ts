import { afterEach, describe, expect, it, vi } from 'vitest';
import { OpenShiftAIWorkloadVariable } from './OpenShiftAIWorkloadVariable';
import {
  fetchWorkloadOptions,
  projectFromPath,
  toOptions,
  workloadsURL,
  workloadTypes,
  workloadVariableOptions,
} from './workloads';

describe('projectFromPath', () => {
  it.each([
    ['/projects/team-a/dashboards/d1', 'team-a'],
    ['/perses/projects/team-b/dashboards/d1', 'team-b'],
    ['/projects/team-a', 'team-a'],
    ['/projects/a%20b/dashboards/x', 'a b'],
    ['/projects/%E0%A4%A/x', undefined],
    ['/dashboards', undefined],
    ['/', undefined],
  ])('%s → %s', (path, want) => {
    expect(projectFromPath(path)).toBe(want);
  });
});

describe('workloadsURL', () => {
  it.each([
    ['', 'team-a', 'model_serving', '/api/v1/projects/team-a/workloads?type=model_serving&metrics=false'],
    ['/perses', 'team-a', 'training', '/perses/api/v1/projects/team-a/workloads?type=training&metrics=false'],
    ['/perses/', 'team-a', 'notebook', '/perses/api/v1/projects/team-a/workloads?type=notebook&metrics=false'],
    ['', 'a/b?c', 'pipeline', '/api/v1/projects/a%2Fb%3Fc/workloads?type=pipeline&metrics=false'],
  ] as const)('prefix %j project %j type %s', (prefix, project, type, want) => {
    expect(workloadsURL(prefix, project, type)).toBe(want);
  });
});

describe('toOptions', () => {
  it.each([
    ['empty', [], []],
    [
      'name (status)',
      [
        { name: 'm1', kind: 'InferenceService', status: 'Ready' },
        { name: 'm2', kind: 'LLMInferenceService', status: 'NotReady' },
      ],
      [
        { value: 'm1', label: 'm1 (Ready)' },
        { value: 'm2', label: 'm2 (NotReady)' },
      ],
    ],
    ['no status: the name', [{ name: 'nb' }, { name: 'nb2', status: '' }], [
      { value: 'nb', label: 'nb' },
      { value: 'nb2', label: 'nb2' },
    ]],
    [
      'a name once, the first kept, order kept',
      [
        { name: 'z', status: 'Running' },
        { name: 'a', kind: 'PyTorchJob', status: 'Failed' },
        { name: 'a', kind: 'TrainJob', status: 'Running' },
      ],
      [
        { value: 'z', label: 'z (Running)' },
        { value: 'a', label: 'a (Failed)' },
      ],
    ],
    ['items without a name skipped', [{ name: '' }, {} as never, null as never, { name: 'p', status: 'Succeeded' }], [
      { value: 'p', label: 'p (Succeeded)' },
    ]],
  ])('%s', (_name, items, want) => {
    expect(toOptions(items)).toEqual(want);
  });
});

function answer(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

describe('fetchWorkloadOptions', () => {
  it('asks the workloads endpoint of the project for the type, and maps the items', async () => {
    const fetch = vi.fn(async () =>
      answer(200, { project: 'team-a', items: [{ name: 'granite', status: 'Ready' }], hints: [] })
    );
    const signal = new AbortController().signal;
    const got = await fetchWorkloadOptions({ type: 'model_serving' }, { apiPrefix: '', project: 'team-a', fetch }, signal);
    expect(got).toEqual([{ value: 'granite', label: 'granite (Ready)' }]);
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(fetch).toHaveBeenCalledWith('/api/v1/projects/team-a/workloads?type=model_serving&metrics=false', {
      signal,
      credentials: 'same-origin',
      headers: { Accept: 'application/json' },
    });
  });

  it('an answer without items is no option', async () => {
    const fetch = vi.fn(async () => answer(200, { project: 'team-a', hints: ['CRD x is not installed'] }));
    expect(await fetchWorkloadOptions({ type: 'training' }, { apiPrefix: '', project: 'team-a', fetch })).toEqual([]);
  });

  it.each([
    [403, { message: 'forbidden: carol may not list notebooks.kubeflow.org' }, /HTTP 403: forbidden: carol/],
    [503, { error: 'cluster unreachable' }, /HTTP 503: cluster unreachable/],
    [500, 'not json', /HTTP 500$/],
  ])('HTTP %i is an error with the server message', async (status, body, want) => {
    const fetch = vi.fn(async () =>
      typeof body === 'string' ? new Response(body, { status }) : answer(status, body)
    );
    await expect(fetchWorkloadOptions({ type: 'notebook' }, { apiPrefix: '', project: 'team-a', fetch })).rejects.toThrow(want);
  });

  it('refuses without a project or with an unknown type, asking nothing', async () => {
    const fetch = vi.fn();
    await expect(fetchWorkloadOptions({ type: 'notebook' }, { apiPrefix: '', project: undefined, fetch })).rejects.toThrow(/no project/);
    await expect(
      fetchWorkloadOptions({ type: 'bogus' as never }, { apiPrefix: '', project: 'team-a', fetch })
    ).rejects.toThrow(/unknown type "bogus"/);
    expect(fetch).not.toHaveBeenCalled();
  });
});

describe('workloadVariableOptions', () => {
  const items = { items: [{ name: 'm1', status: 'Ready' }, { name: 'm2', status: 'NotReady' }] };

  it('the workloads, the fallback among them kept in place', async () => {
    const fetch = vi.fn(async () => answer(200, items));
    expect(await workloadVariableOptions({ type: 'model_serving', fallback: 'm2' }, { apiPrefix: '', project: 'team-a', fetch })).toEqual([
      { value: 'm1', label: 'm1 (Ready)' },
      { value: 'm2', label: 'm2 (NotReady)' },
    ]);
  });

  it('the fallback added when the list lacks it (a served model name, a deleted workload)', async () => {
    const fetch = vi.fn(async () => answer(200, items));
    expect(
      await workloadVariableOptions({ type: 'model_serving', fallback: 'ibm-granite/granite' }, { apiPrefix: '', project: 'team-a', fetch })
    ).toEqual([
      { value: 'm1', label: 'm1 (Ready)' },
      { value: 'm2', label: 'm2 (NotReady)' },
      { value: 'ibm-granite/granite', label: 'ibm-granite/granite' },
    ]);
  });

  it.each([
    ['HTTP 503 (no cluster, as make run)', { apiPrefix: '', project: 'team-a', fetch: vi.fn(async () => answer(503, { message: 'no Kubernetes' })) }],
    ['HTTP 403', { apiPrefix: '', project: 'team-a', fetch: vi.fn(async () => answer(403, { message: 'forbidden' })) }],
    ['the network', { apiPrefix: '', project: 'team-a', fetch: vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))) }],
    ['no project', { apiPrefix: '', project: undefined, fetch: vi.fn() }],
  ])('%s fails: the fallback alone, and a warning', async (_name, ctx) => {
    const warn = vi.fn();
    expect(await workloadVariableOptions({ type: 'notebook', fallback: 'nb' }, ctx as never, undefined, warn)).toEqual([
      { value: 'nb', label: 'nb' },
    ]);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]?.[0]).toMatch(/offering "nb" alone$/);
  });

  it('without a fallback, or aborted, the failure is the error', async () => {
    const fetch = vi.fn(async () => answer(503, { message: 'no Kubernetes' }));
    await expect(workloadVariableOptions({ type: 'notebook' }, { apiPrefix: '', project: 'team-a', fetch })).rejects.toThrow(/HTTP 503/);
    await expect(workloadVariableOptions({ type: 'notebook', fallback: '' }, { apiPrefix: '', project: 'team-a', fetch })).rejects.toThrow(/HTTP 503/);
    const ac = new AbortController();
    ac.abort();
    const aborted = vi.fn(async () => Promise.reject(new DOMException('aborted', 'AbortError')));
    await expect(
      workloadVariableOptions({ type: 'notebook', fallback: 'nb' }, { apiPrefix: '', project: 'team-a', fetch: aborted }, ac.signal)
    ).rejects.toThrow(/aborted/);
  });
});

describe('OpenShiftAIWorkloadVariable', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('takes the project from the page and the prefix from the UI config', async () => {
    const fetch = vi.fn(async () => answer(200, { items: [{ name: 'train-1', status: 'Running' }] }));
    vi.stubGlobal('fetch', fetch);
    vi.stubGlobal('window', {
      location: { pathname: '/perses/projects/team-b/dashboards/training-1' },
      PERSES_APP_CONFIG: { api_prefix: '/perses' },
    });
    const got = await OpenShiftAIWorkloadVariable.getVariableOptions({ type: 'training' }, {} as never);
    expect(got).toEqual({ data: [{ value: 'train-1', label: 'train-1 (Running)' }] });
    expect(fetch).toHaveBeenCalledWith(
      '/perses/api/v1/projects/team-b/workloads?type=training&metrics=false',
      expect.objectContaining({ credentials: 'same-origin' })
    );
  });

  it('offers the fallback alone when the endpoint fails', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => answer(503, { message: 'no Kubernetes connection' })));
    vi.stubGlobal('window', { location: { pathname: '/projects/team-a/dashboards/nb' } });
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const got = await OpenShiftAIWorkloadVariable.getVariableOptions({ type: 'notebook', fallback: 'notebook-a' }, {} as never);
    expect(got).toEqual({ data: [{ value: 'notebook-a', label: 'notebook-a' }] });
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/HTTP 503: no Kubernetes connection; offering "notebook-a" alone/));
    warn.mockRestore();
  });

  it('starts as model serving and depends on no variable', () => {
    expect(OpenShiftAIWorkloadVariable.createInitialOptions?.()).toEqual({ type: 'model_serving' });
    expect(OpenShiftAIWorkloadVariable.dependsOn?.({ type: 'notebook' }, {} as never)).toEqual({ variables: [] });
    expect(workloadTypes).toEqual(['model_serving', 'training', 'notebook', 'pipeline']);
  });
});

#!/usr/bin/env node
// The quickstart's flow in Debian's Chromium, against a server whose workloads endpoint
// lists a real cluster: /templates?project=<p> → a template → its workload picker must list
// the expected workloads → choose one → Create → the stock UI opens the new dashboard with
// its display name in the heading, the panel draws with data (canvas ink, no "No data", no
// error: render.mjs's checks), and the dashboard's workload variable (the
// OpenShiftAIWorkloadVariable plugin) lists the expected workloads when opened.
//
//   node quickstart.mjs <base-url> <project> <template-id> <workload> <dashboard-name>
//        <panel-title> <variable-label> <expected-workloads,comma-separated> <screenshot-prefix>
//
// Writes <prefix>-picker.png, <prefix>-dashboard.png and <prefix>-variable.png. Prints a
// JSON summary on stdout; exit 1 with one line starting with "quickstart:" on stderr when a
// step fails (a screenshot of the page as it was is written to <prefix>-failed.png).
import { chromium } from 'playwright-core';
import { canvasInk, poll, visibleErrorAlerts } from './checks.mjs';

const [base, project, templateID, workload, dashboardName, panelTitle, variableLabel, expected, shot] = process.argv.slice(2);
if (!shot) {
  console.error('usage: node quickstart.mjs <base-url> <project> <template-id> <workload> <dashboard-name> <panel-title> <variable-label> <w1,w2,…> <screenshot-prefix>');
  process.exit(2);
}
const want = expected.split(',').filter(Boolean);
// optionNames returns the names of the open listbox's options ("m1 (Ready)" → "m1").
async function optionNames(page) {
  const options = page.getByRole('option');
  await options.first().waitFor({ timeout: 20000 });
  const texts = await options.allInnerTexts();
  return texts.map((t) => t.trim().replace(/\s+\(.*\)$/, ''));
}

function requireAll(got, where) {
  const missing = want.filter((w) => !got.includes(w));
  if (missing.length) throw new Error(`${where} lacks ${missing.join(', ')} (it lists: ${got.join(', ') || 'nothing'})`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let page;
const summary = {};
try {
  page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const deadline = Date.now() + 90000;

  // The gallery: the template's form, its workload picker.
  await page.goto(`${base}/templates?project=${encodeURIComponent(project)}`);
  await page.getByTestId(`template-${templateID}`).getByRole('button', { name: 'Use this template' }).click({ timeout: 20000 });
  const form = page.getByTestId(`form-${templateID}`);
  await form.waitFor({ timeout: 10000 });
  const field = form.locator('.MuiTextField-root').first();
  const picker = field.getByRole('combobox');
  await picker.waitFor({ timeout: 20000 }).catch(() => {
    throw new Error('the form shows no workload picker (the workloads endpoint listed nothing?)');
  });
  await picker.click();
  summary.pickerOptions = await optionNames(page);
  requireAll(summary.pickerOptions, 'the gallery\'s workload picker');
  await page.screenshot({ path: `${shot}-picker.png` });
  await page.getByRole('option', { name: new RegExp(`^${workload}( \\(|$)`) }).click();
  await form.getByLabel('Dashboard name').fill(dashboardName);
  await form.getByRole('button', { name: 'Create' }).click();

  // The dashboard: its name in the heading.
  const url = new RegExp(`/projects/${project}/dashboards/${dashboardName}$`);
  await page.waitForURL(url, { timeout: 20000 });
  const res = await page.request.get(`${base}/api/v1/projects/${project}/dashboards/${dashboardName}`);
  if (!res.ok()) throw new Error(`the dashboard ${dashboardName} is not there: HTTP ${res.status()}`);
  summary.displayName = (await res.json()).spec?.display?.name;
  if (!summary.displayName) throw new Error('the dashboard has no display name');
  // The stock UI's heading of a dashboard page is its breadcrumbs (#breadcrumbs), the
  // dashboard's display name last.
  const heading = page.locator('#breadcrumbs').getByText(summary.displayName, { exact: true });
  await heading.first().waitFor({ timeout: 20000 }).catch(() => {
    throw new Error(`no heading "${summary.displayName}" on the dashboard page`);
  });

  // The panel draws with data: render.mjs's checks.
  const panel = await poll(deadline, `the panel "${panelTitle}"`, async () => {
    const alerts = await visibleErrorAlerts(page);
    if (alerts.length) throw new Error(`the page shows an error: ${alerts.join(' | ')}`);
    const panels = page.locator('[data-testid="panel"]');
    for (let i = 0; i < (await panels.count()); i++) {
      const p = panels.nth(i);
      if (((await p.innerText().catch(() => '')) || '').includes(panelTitle)) return p;
    }
    return null;
  });
  await panel.scrollIntoViewIfNeeded();
  let previous = -1;
  let stable = 0;
  await poll(deadline, `the panel "${panelTitle}" to draw`, async () => {
    const alerts = await visibleErrorAlerts(panel);
    if (alerts.length) throw new Error(`the panel shows an error: ${alerts.join(' | ')}`);
    const text = (await panel.innerText().catch(() => '')) || '';
    if (/\bNo data\b/i.test(text)) throw new Error(`the panel "${panelTitle}" shows "No data"`);
    if ((await panel.locator('[aria-label*=Loading]').count()) > 0) return false;
    const ink = await canvasInk(panel);
    summary.canvasInk = ink;
    stable = ink > 500 && ink === previous ? stable + 1 : 0;
    previous = ink;
    return stable >= 2;
  });
  const panelText = (await panel.innerText()) || '';
  summary.legend = ['p50', 'p95', 'p99'].filter((l) => panelText.includes(l));
  if (summary.legend.length !== 3) throw new Error(`the panel's legend lacks p50/p95/p99 (it shows: ${panelText.replace(/\s+/g, ' ').slice(0, 200)})`);
  await page.screenshot({ path: `${shot}-dashboard.png` });

  // The dashboard's workload variable: selected on the workload, listing the project's.
  const variable = page.getByLabel(variableLabel, { exact: true });
  await variable.first().waitFor({ timeout: 20000 });
  summary.variableValue = await variable.first().inputValue();
  await variable.first().click();
  summary.variableOptions = await optionNames(page);
  requireAll(summary.variableOptions, `the dashboard's variable "${variableLabel}"`);
  if (!summary.variableValue.startsWith(workload)) throw new Error(`the variable "${variableLabel}" shows "${summary.variableValue}", not ${workload}`);
  await page.screenshot({ path: `${shot}-variable.png` });
  if (errors.length) throw new Error(`the page threw: ${errors.join(' | ')}`);
  summary.url = page.url();
  console.log(JSON.stringify(summary));
} catch (e) {
  if (page) await page.screenshot({ path: `${shot}-failed.png` }).catch(() => {});
  console.error(`quickstart: ${e.message.split('\n')[0]} ${JSON.stringify(summary)}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}

#!/usr/bin/env node
// Drives the template gallery in Debian's Chromium: /templates?project=<p> → a template →
// its workload variable (the workload picker when the project lists workloads of the
// template's type, else the text field) → Create, then waits for the stock UI to open the
// new dashboard with its display name on the page.
//
//   node gallery.mjs <base-url> <project> <template-id> <workload> <screenshot.png> [dashboard-name [variable-label]]
//
// Without a dashboard name the form's default (<template>-<workload>) is kept. With a
// variable label, the dashboard's variable of that label is opened and its value and
// options reported (variableValue, variableOptions).
//
// Prints a JSON summary ({url, dashboard, displayName, picker}) on stdout; exit 1 with one
// line starting with "gallery:" on stderr when a step fails.
import { chromium } from 'playwright-core';

const [base, project, templateID, workload, shot, dashboardName, variableLabel] = process.argv.slice(2);
if (!shot) {
  console.error('usage: node gallery.mjs <base-url> <project> <template-id> <workload> <screenshot.png>');
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let page;
try {
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${base}/templates?project=${encodeURIComponent(project)}`);
  const card = page.getByTestId(`template-${templateID}`);
  await card.getByRole('button', { name: 'Use this template' }).click({ timeout: 20000 });
  const form = page.getByTestId(`form-${templateID}`);
  await form.waitFor({ timeout: 10000 });
  // The workload variable is the form's first field: a select (picker) or a text box.
  await page.waitForTimeout(1000); // the workloads answer decides which one
  const field = form.locator('.MuiTextField-root').first();
  let picker = false;
  if ((await field.getByRole('combobox').count()) > 0) {
    picker = true;
    await field.getByRole('combobox').click();
    await page.getByRole('option', { name: new RegExp(`^${workload}( \\(|$)`) }).click();
  } else {
    await field.locator('input').fill(workload);
  }
  if (dashboardName) await form.getByLabel('Dashboard name').fill(dashboardName);
  await form.getByRole('button', { name: 'Create' }).click();
  const want = new RegExp(`/projects/${project}/dashboards/([^/?#]+)$`);
  await page.waitForURL(want, { timeout: 20000 });
  const dashboard = decodeURIComponent(want.exec(new URL(page.url()).pathname)[1]);
  const res = await page.request.get(`${base}/api/v1/projects/${project}/dashboards/${dashboard}`);
  if (!res.ok()) throw new Error(`the dashboard ${dashboard} is not there: HTTP ${res.status()}`);
  const displayName = (await res.json()).spec?.display?.name || dashboard;
  await page.getByText(displayName, { exact: true }).first().waitFor({ timeout: 20000 });
  const out = { url: page.url(), dashboard, displayName, picker };
  if (variableLabel) {
    const variable = page.getByLabel(variableLabel, { exact: true }).first();
    await variable.waitFor({ timeout: 20000 });
    // Empty until the options arrive (the value is shown by its option's label).
    for (let end = Date.now() + 20000; Date.now() < end; await page.waitForTimeout(250)) {
      if ((out.variableValue = await variable.inputValue()) !== '') break;
    }
    await variable.click();
    await page.getByRole('option').first().waitFor({ timeout: 20000 });
    out.variableOptions = (await page.getByRole('option').allInnerTexts()).map((t) => t.trim());
  }
  if (errors.length) throw new Error(`the page threw: ${errors.join(' | ')}`);
  await page.screenshot({ path: shot });
  console.log(JSON.stringify(out));
} catch (e) {
  if (page) await page.screenshot({ path: shot }).catch(() => {});
  console.error(`gallery: ${e.message.split('\n')[0]}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}

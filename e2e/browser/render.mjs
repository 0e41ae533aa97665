#!/usr/bin/env node
// Renders one Perses page in Debian's Chromium and checks that it really rendered.
//
//   node render.mjs [options] <url> <screenshot.png>
//
// Options:
//   --mode dashboard|page   dashboard (default): wait for a TimeSeriesChart panel to draw its
//                           chart; page: wait for the app to render, no chart expected.
//   --panel <title>         the panel to wait for (default: the first panel with a canvas).
//   --expect-text <text>    text that must appear in that panel (e.g. a legend entry), or on
//                           the page in page mode; may be repeated.
//   --timeout <ms>          overall budget (default 60000).
//   --expect-panel-error <text>  the panel must show an error containing <text> (a refusal
//                           the test asks for) instead of a chart; other errors still fail.
//
// It fails (exit 1, one line starting with "render:" on stderr) when the page shows an
// error alert, the panel shows "No data" or an error, the chart canvas stays blank, the
// page throws, or the budget runs out. It always writes the screenshot when it got far
// enough to have a page, and prints a JSON summary on stdout.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { chromium } from 'playwright-core';
import { CheckError, canvasInk, poll, visibleErrorAlerts } from './checks.mjs';

const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function usage(message) {
  if (message) console.error(`render: ${message}`);
  console.error('usage: node render.mjs [--mode dashboard|page] [--panel TITLE] [--expect-text TEXT]... [--timeout MS] <url> <screenshot.png>');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { mode: 'dashboard', panel: '', expectText: [], timeout: 60000, positional: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--mode') opts.mode = value();
    else if (a === '--panel') opts.panel = value();
    else if (a === '--expect-text') opts.expectText.push(value());
    else if (a === '--timeout') opts.timeout = Number(value());
    else if (a === '--expect-panel-error') opts.expectPanelError = value();
    else if (a.startsWith('--')) usage(`unknown option ${a}`);
    else opts.positional.push(a);
  }
  if (opts.positional.length !== 2) usage('want exactly <url> and <screenshot.png>');
  if (!['dashboard', 'page'].includes(opts.mode)) usage(`unknown mode ${opts.mode}`);
  if (!(opts.timeout > 0)) usage('--timeout must be a positive number of milliseconds');
  [opts.url, opts.screenshot] = opts.positional;
  return opts;
}

// A failed check: its message is the whole story.
const RenderError = CheckError;

// failOnAlert ends the wait as soon as the page shows an error, instead of at the deadline.
let expectedError = '';
async function failOnAlert(page) {
  const alerts = (await visibleErrorAlerts(page)).filter((a) => !expectedError || !a.includes(expectedError));
  if (alerts.length) throw new RenderError(`the page shows an error: ${alerts.join(' | ')}`);
}

async function findPanel(page, opts, deadline) {
  return poll(deadline, opts.panel ? `panel "${opts.panel}"` : 'a panel with a chart canvas', async () => {
    await failOnAlert(page);
    const panels = page.locator('[data-testid="panel"]');
    for (let i = 0; i < (await panels.count()); i++) {
      const panel = panels.nth(i);
      const text = (await panel.innerText().catch(() => '')) || '';
      if (opts.panel ? text.includes(opts.panel) : (await panel.locator('canvas').count()) > 0) return panel;
    }
    return null;
  });
}

async function checkDashboard(page, opts, deadline, summary) {
  await poll(deadline, 'the dashboard panels', async () => {
    await failOnAlert(page);
    return (await page.locator('[data-testid="panel"]').count()) > 0;
  });
  summary.panels = await page.locator('[data-testid="panel"]').count();
  const panel = await findPanel(page, opts, deadline);
  await panel.scrollIntoViewIfNeeded();
  if (opts.expectPanelError) {
    await poll(deadline, `the panel to show the error "${opts.expectPanelError}"`, async () => {
      const alerts = await visibleErrorAlerts(panel);
      summary.panelErrors = alerts;
      const other = alerts.filter((a) => !a.includes(opts.expectPanelError));
      if (other.length) throw new RenderError(`the panel shows another error: ${other.join(' | ')}`);
      if (alerts.length) return true;
      const text = (await panel.innerText().catch(() => '')) || '';
      return text.includes(opts.expectPanelError);
    });
    return;
  }

  // Loaded: no loading indicator left, and a canvas with ink that stopped changing.
  let previous = -1;
  let stable = 0;
  await poll(deadline, 'the chart to draw', async () => {
    const alerts = await visibleErrorAlerts(panel);
    if (alerts.length) throw new RenderError(`the panel shows an error: ${alerts.join(' | ')}`);
    const text = (await panel.innerText().catch(() => '')) || '';
    if (/\bNo data\b/i.test(text)) throw new RenderError('the panel shows "No data"');
    if ((await panel.locator('[aria-label*=Loading]').count()) > 0) return false;
    const ink = await canvasInk(panel);
    summary.canvasInk = ink;
    stable = ink > 500 && ink === previous ? stable + 1 : 0;
    previous = ink;
    return stable >= 2;
  });
  const text = (await panel.innerText()) || '';
  for (const expected of opts.expectText) {
    if (!text.includes(expected)) throw new RenderError(`the panel lacks the text "${expected}" (it shows: ${text.replace(/\s+/g, ' ').slice(0, 200)})`);
  }
}

async function checkPage(page, opts, deadline) {
  await poll(deadline, 'the app to render', async () => {
    await failOnAlert(page);
    const text = (await page.locator('#root').innerText().catch(() => '')) || '';
    return text.trim().length > 0 && (await page.locator('[role="progressbar"]').count()) === 0;
  });
  const text = (await page.locator('body').innerText()) || '';
  for (const expected of opts.expectText) {
    if (!text.includes(expected)) throw new RenderError(`the page lacks the text "${expected}"`);
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  expectedError = opts.expectPanelError || '';
  const deadline = Date.now() + opts.timeout;
  const summary = { url: opts.url, mode: opts.mode, screenshot: opts.screenshot, consoleErrors: [], failedRequests: [] };
  const pageErrors = [];
  const userDataDir = mkdtempSync(join(tmpdir(), 'perses-e2e-chromium-'));
  let context;
  let page;
  try {
    try {
      context = await chromium.launchPersistentContext(userDataDir, {
        executablePath: CHROMIUM,
        headless: true,
        args: CHROMIUM_ARGS,
        viewport: { width: 1600, height: 1000 },
        timeout: 30000,
      });
    } catch (err) {
      throw new RenderError(`cannot start ${CHROMIUM} (run \`make deps\`): ${err.message.split('\n')[0]}`);
    }
    page = context.pages()[0] || (await context.newPage());
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (msg) => {
      if (msg.type() === 'error') summary.consoleErrors.push(msg.text().slice(0, 300));
    });
    page.on('response', (resp) => {
      if (resp.status() >= 400) summary.failedRequests.push(`${resp.status()} ${resp.request().method()} ${resp.url()}`);
    });

    const response = await page.goto(opts.url, { waitUntil: 'domcontentloaded', timeout: Math.max(1000, deadline - Date.now()) });
    if (!response || !response.ok()) throw new RenderError(`GET ${opts.url} answered ${response ? response.status() : 'nothing'}`);

    if (opts.mode === 'dashboard') await checkDashboard(page, opts, deadline, summary);
    else await checkPage(page, opts, deadline);

    await failOnAlert(page);
    if (pageErrors.length) throw new RenderError(`the page threw: ${pageErrors.join(' | ')}`);
    summary.ok = true;
  } catch (err) {
    summary.ok = false;
    summary.error = err instanceof RenderError ? err.message : `${err.name}: ${err.message.split('\n')[0]}`;
  } finally {
    if (page) {
      try {
        mkdirSync(dirname(opts.screenshot), { recursive: true });
        await page.screenshot({ path: opts.screenshot, fullPage: true });
      } catch (err) {
        summary.screenshotError = err.message.split('\n')[0];
      }
    }
    if (context) await context.close().catch(() => {});
    rmSync(userDataDir, { recursive: true, force: true });
  }
  console.log(JSON.stringify(summary));
  if (!summary.ok) {
    console.error(`render: ${summary.error} (${opts.url}; screenshot ${opts.screenshot})`);
    process.exit(1);
  }
}

main().catch((err) => {
  console.error(`render: ${err.message}`);
  process.exit(1);
});

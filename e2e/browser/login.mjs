#!/usr/bin/env node
// Logs in to Perses through the browser login in Debian's Chromium and checks the UI.
//
//   node login.mjs [--user NAME] [--timeout MS] <page url> <screenshot.png>
//
// Opens <page url> without a session, follows the redirects (the server's /oauth/login,
// the authorization server, which approves at once, /oauth/callback) and checks that it
// lands back on that page, that the account menu names the user, that whoami answers
// with the session cookie and (on a project page) that the page may create a dashboard.
// Then it opens /oauth/logout, checks that whoami answers 401, and opens the page again,
// which must go through /oauth/login once more.
//
// The authorization server of the tests has its own CA, so certificate errors are
// ignored. Prints a JSON summary on stdout; fails (exit 1, "login: ..." on stderr)
// when a check does not hold. Writes <screenshot.png> (logged in) and
// <screenshot>-logout.png.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { chromium } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ERROR_ALERT = '.MuiAlert-standardError, .MuiAlert-filledError, .MuiAlert-outlinedError, .MuiAlert-colorError';

class CheckError extends Error {}

function parseArgs(argv) {
  const opts = { user: 'alice', timeout: 60000, positional: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--user') opts.user = argv[++i];
    else if (a === '--timeout') opts.timeout = Number(argv[++i]);
    else if (a.startsWith('--')) throw new CheckError(`unknown option ${a}`);
    else opts.positional.push(a);
  }
  if (opts.positional.length !== 2) throw new CheckError('usage: node login.mjs [--user NAME] [--timeout MS] <page url> <screenshot.png>');
  [opts.url, opts.screenshot] = opts.positional;
  return opts;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function poll(deadline, what, fn) {
  while (Date.now() < deadline) {
    const v = await fn();
    if (v) return v;
    await sleep(250);
  }
  throw new CheckError(`timed out waiting for ${what}`);
}

// navigate opens url and returns the chain of main-frame documents it went through.
async function navigate(page, url, deadline) {
  const chain = [];
  const onRequest = (req) => {
    if (req.isNavigationRequest() && req.frame() === page.mainFrame()) {
      const u = new URL(req.url());
      chain.push(`${u.origin}${u.pathname}`);
    }
  };
  page.on('request', onRequest);
  try {
    const resp = await page.goto(url, { waitUntil: 'domcontentloaded', timeout: Math.max(1000, deadline - Date.now()) });
    if (!resp || !resp.ok()) throw new CheckError(`GET ${url} ended with ${resp ? resp.status() : 'nothing'} at ${page.url()}`);
  } finally {
    page.off('request', onRequest);
  }
  return chain;
}

async function whoami(page) {
  return page.evaluate(async () => {
    const r = await fetch('/api/v1/user/whoami');
    return { status: r.status, body: await r.text() };
  });
}

async function appRendered(page, deadline) {
  await poll(deadline, 'the app to render', async () => {
    const alerts = page.locator(ERROR_ALERT);
    for (let i = 0; i < (await alerts.count()); i++) {
      if (await alerts.nth(i).isVisible()) throw new CheckError(`the page shows an error: ${(await alerts.nth(i).innerText()).trim()}`);
    }
    const text = (await page.locator('#root').innerText().catch(() => '')) || '';
    return text.trim().length > 0 && (await page.locator('[role="progressbar"]').count()) === 0;
  });
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const deadline = Date.now() + opts.timeout;
  const target = new URL(opts.url);
  const summary = { url: opts.url, failedRequests: [], pageErrors: [] };
  const userDataDir = mkdtempSync(join(tmpdir(), 'perses-e2e-login-'));
  let context;
  let page;
  const shot = async (path) => {
    if (!page) return;
    mkdirSync(dirname(path), { recursive: true });
    await page.screenshot({ path, fullPage: true }).catch((err) => { summary.screenshotError = err.message.split('\n')[0]; });
  };
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, ignoreHTTPSErrors: true,
      viewport: { width: 1400, height: 900 }, timeout: 30000,
    });
    page = context.pages()[0] || (await context.newPage());
    page.on('pageerror', (err) => summary.pageErrors.push(err.message));
    page.on('response', (resp) => {
      if (resp.status() >= 400) summary.failedRequests.push(`${resp.status()} ${resp.request().method()} ${resp.url()}`);
    });

    // 1. Not logged in: the page sends to the login and back.
    summary.loginChain = await navigate(page, opts.url, deadline);
    summary.landedAt = page.url();
    const landed = new URL(page.url());
    if (landed.origin !== target.origin || landed.pathname !== target.pathname) {
      throw new CheckError(`landed on ${page.url()}, not on ${opts.url}`);
    }
    if (!summary.loginChain.some((u) => u.endsWith('/oauth/login'))) throw new CheckError(`the first visit did not go through /oauth/login: ${summary.loginChain.join(' → ')}`);
    const cookies = await context.cookies(target.origin);
    summary.sessionCookie = cookies.filter((c) => c.name.endsWith('-session')).map((c) => ({ name: c.name, httpOnly: c.httpOnly, sameSite: c.sameSite, secure: c.secure }));

    // 2. The UI knows the user: whoami with the cookie, and the account menu.
    await appRendered(page, deadline);
    summary.whoami = await whoami(page);
    if (summary.whoami.status !== 200 || !summary.whoami.body.includes(`"${opts.user}"`)) {
      throw new CheckError(`whoami answered ${summary.whoami.status} ${summary.whoami.body.slice(0, 200)}`);
    }
    await page.getByRole('button', { name: 'Account menu' }).click({ timeout: Math.max(1000, deadline - Date.now()) });
    await poll(deadline, `the account menu to name ${opts.user}`, async () => {
      const text = (await page.locator('#menu-account-list-appbar').innerText().catch(() => '')) || '';
      return text.includes(opts.user);
    });
    summary.accountMenuShowsUser = true;
    await page.keyboard.press('Escape');

    // A change from the page itself (same origin) passes the cross-origin check.
    const project = target.pathname.match(/^\/projects\/([^/]+)/);
    if (project) {
      summary.createDashboard = await page.evaluate(async (p) => {
        const body = { kind: 'Dashboard', metadata: { name: 'made-in-browser', project: p },
          spec: { display: { name: 'made in the browser' }, duration: '1h', panels: {}, layouts: [] } };
        const r = await fetch(`/api/v1/projects/${p}/dashboards`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
        return { status: r.status, body: (await r.text()).slice(0, 200) };
      }, project[1]);
    }
    // The project page renders its name once its own requests are answered: wait for it
    // (the Go test asserts it), but capture whatever is there when the deadline comes.
    const rootText = async () => ((await page.locator('#root').innerText().catch(() => '')) || '').replace(/\s+/g, ' ');
    if (project) {
      await poll(deadline, `the project page to show ${project[1]}`, async () => (await rootText()).includes(project[1])).catch(() => {});
    }
    summary.pageText = (await rootText()).slice(0, 300);
    await shot(opts.screenshot);

    // 3. Logout ends the session; the page then sends to the login again.
    await navigate(page, `${target.origin}/oauth/logout`, deadline);
    summary.logoutText = ((await page.locator('body').innerText()) || '').replace(/\s+/g, ' ').trim();
    summary.whoamiAfterLogout = (await whoami(page)).status;
    if (summary.whoamiAfterLogout !== 401) throw new CheckError(`whoami after logout answered ${summary.whoamiAfterLogout}, want 401`);
    await shot(opts.screenshot.replace(/\.png$/, '-logout.png'));
    summary.againChain = await navigate(page, opts.url, deadline);
    if (!summary.againChain.some((u) => u.endsWith('/oauth/login'))) throw new CheckError(`after logout the page did not go through /oauth/login: ${summary.againChain.join(' → ')}`);
    if (summary.pageErrors.length) throw new CheckError(`the page threw: ${summary.pageErrors.join(' | ')}`);
    summary.ok = true;
  } catch (err) {
    summary.ok = false;
    summary.error = err instanceof CheckError ? err.message : `${err.name}: ${err.message.split('\n')[0]}`;
    await shot(opts.screenshot);
  } finally {
    if (context) await context.close().catch(() => {});
    rmSync(userDataDir, { recursive: true, force: true });
  }
  console.log(JSON.stringify(summary));
  if (!summary.ok) {
    console.error(`login: ${summary.error}`);
    process.exit(1);
  }
}

main().catch((err) => {
  console.error(`login: ${err.message}`);
  process.exit(1);
});

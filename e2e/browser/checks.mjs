// What the browser scripts check on a Perses page: error alerts, chart ink, and a poll
// with a deadline. Shared by render.mjs and quickstart.mjs.

// CheckError is a check that failed: its message is the whole story (no stack needed).
export class CheckError extends Error {}

// MUI renders <Alert severity="error"> with these classes (v5 and v6 names).
export const ERROR_ALERT = [
  '.MuiAlert-standardError',
  '.MuiAlert-filledError',
  '.MuiAlert-outlinedError',
  '.MuiAlert-colorError',
].join(', ');

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// poll calls fn until it returns a truthy value or the deadline passes.
export async function poll(deadline, what, fn, interval = 250) {
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await sleep(interval);
  }
  throw new CheckError(`timed out waiting for ${what}`);
}

// visibleErrorAlerts returns the text of every visible error alert in scope.
export async function visibleErrorAlerts(scope) {
  const alerts = scope.locator(ERROR_ALERT);
  const texts = [];
  for (let i = 0; i < (await alerts.count()); i++) {
    const alert = alerts.nth(i);
    if (await alert.isVisible()) texts.push(((await alert.innerText()) || '').trim().replace(/\s+/g, ' '));
  }
  return texts;
}

// canvasInk counts the non-transparent pixels of every canvas in the panel, so a chart
// that drew nothing (or only its background) is told apart from one that drew lines.
export async function canvasInk(panel) {
  return panel.evaluate((node) => {
    let ink = 0;
    for (const canvas of node.querySelectorAll('canvas')) {
      if (!canvas.width || !canvas.height) continue;
      const ctx = canvas.getContext('2d');
      if (!ctx) continue;
      const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
      for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) ink++;
    }
    return ink;
  });
}

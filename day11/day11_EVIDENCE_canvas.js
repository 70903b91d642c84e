// Screenshot the imported workflow in the real n8n editor (called by day11_EVIDENCE_capture.py).
// usage: node day11_EVIDENCE_canvas.js <n8n base url> <workflow id> <output.png> [<workflow id> <output.png> ...]
const { chromium } = require('playwright-core');

(async () => {
  const [base, ...pairs] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const context = await browser.newContext({ viewport: { width: 1600, height: 900 } });
  const owner = { email: 'owner@day11.example', firstName: 'Day', lastName: 'Eleven', password: 'Day11-evidence-only' };
  const setup = await context.request.post(`${base}/rest/owner/setup`, { data: owner });
  if (!setup.ok()) {  // already set up: log in instead
    const login = await context.request.post(`${base}/rest/login`, { data: { emailOrLdapLoginId: owner.email, password: owner.password } });
    if (!login.ok()) throw new Error(`n8n login failed: ${login.status()} ${await login.text()}`);
  }
  const page = await context.newPage();
  for (let i = 0; i < pairs.length; i += 2) await shoot(page, base, pairs[i], pairs[i + 1]);
  await browser.close();
})().catch(error => { console.error(error.message); process.exit(1); });

async function shoot(page, base, workflowId, output) {
  await page.goto(`${base}/workflow/${workflowId}`, { waitUntil: 'networkidle' });
  await page.waitForSelector('[data-test-id="canvas-node"]', { timeout: 60000 });
  await page.waitForTimeout(2000);
  for (const text of ['Got it', 'Skip', 'Close']) {  // onboarding pop-ups, if any
    const button = page.getByRole('button', { name: text });
    if (await button.count()) await button.first().click().catch(() => {});
  }
  const fit = page.locator('[data-test-id="zoom-to-fit"]');
  if (await fit.count()) await fit.first().click();
  await page.mouse.move(800, 40);  // no tooltip in the picture
  await page.waitForTimeout(1500);
  await page.screenshot({ path: output });
}

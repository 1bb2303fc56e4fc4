/**
 * The browser half of live.test.ts. It runs inside the test's namespace (`ip netns exec`)
 * so that headless Chromium reaches the stack at its address; it speaks JSON lines:
 *
 *   → {"before": {…counters on the page…}}      once the page is loaded and live
 *   ← a number N on stdin                        "traffic has been sent: expect N more"
 *   → {"after": {…}, "changed": true|false}      when the watched counter moved by N (or 15 s passed)
 *
 * argv: URL, the data-counter to watch (e.g. Icmp.InEchos), screenshot path.
 */
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const [url, watch, shot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  // root in a container: no user namespaces for the sandbox; no GPU either.
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  timeout: 30_000,
});
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 1400 } });
  await page.goto(url, { timeout: 15_000 });
  // 'live' means the EventSource is open and the first snapshot can arrive.
  await page.waitForFunction(() => document.getElementById('status')?.textContent === 'live', null, { timeout: 15_000 });
  const read = () => page.evaluate(() => Object.fromEntries(
    [...document.querySelectorAll('[data-counter]')].map((el) => [el.getAttribute('data-counter'), Number(el.textContent)])));
  const before = await read();
  process.stdout.write(`${JSON.stringify({ before })}\n`);
  const stdin = createInterface({ input: process.stdin });
  const more = Number(await new Promise((resolve) => stdin.once('line', resolve)));
  stdin.close(); // an open stdin would keep this process alive after the browser closes
  const changed = await page.waitForFunction(
    ([name, want]) => Number(document.querySelector(`[data-counter="${name}"]`)?.textContent) >= want,
    [watch, before[watch] + more], { timeout: 15_000 },
  ).then(() => true, () => false);
  const after = await read();
  await page.screenshot({ path: shot, fullPage: false });
  process.stdout.write(`${JSON.stringify({ after, changed })}\n`);
} finally {
  await browser.close();
}

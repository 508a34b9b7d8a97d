// The README's picture of the lab: starts `nablax lab`, opens panels 1, 2, 3 and 6 on test digit #0 with FGSM at
// ε = 0.2 in headless Chromium, and writes docs/lab.png (1000 px wide), plus .tmp/lab-phone.png at a phone's width
// (375 px) to check the layout. Run `npm run build:lab` first, then `npx tsx lab/screenshot.ts`.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const server = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'lab', '--port', '0'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise<string>((res) => server.stdout.once('data', (d) => res(String(d).trim())));
const profile = mkdtempSync(join(tmpdir(), 'nablax-lab-shot-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  mkdirSync(join(root, '.tmp'), { recursive: true });
  for (const [width, out] of [[1000, 'docs/lab.png'], [375, '.tmp/lab-phone.png']] as const) {
    const page = await context.newPage();
    await page.setViewportSize({ width, height: 900 });
    await page.goto(url);
    await page.waitForFunction(() => (globalThis as unknown as { __lab?: { last: { predicted: number } } }).__lab?.last.predicted === 7);
    await page.evaluate(() => { for (const p of [2, 3, 6]) (document.getElementById(`p${p}`) as HTMLDetailsElement).open = true; });
    await page.locator('#eps').fill('0.2');
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur()); // no focus ring in the picture
    await page.waitForTimeout(500);
    await page.screenshot({ path: join(root, out), fullPage: true });
    process.stderr.write(`wrote ${out}\n`);
    await page.close();
  }
} finally {
  await context.close();
  server.kill('SIGTERM');
  rmSync(profile, { recursive: true, force: true });
}

import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../helpers/mesh-cluster.js';
import { type ConsoleCluster, NAMES, startConsoleCluster } from './console-cluster.js';

/** Debian's Chromium (.ci/run installs it); no browser is downloaded. */
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
/** The screenshots of the run (gitignored); docs/ keeps two of them. */
export const SCREENSHOTS = join(import.meta.dirname, '../../.ci-out/screenshots');
/** The flags Chromium needs here: no sandbox as root, and no calls to Google's hosts (the network is closed). */
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** A page of a portal on another origin: the CORS test's caller. */
function portal(): Promise<{ server: Server; origin: string }> {
  const server = createServer((_req, res) => void res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><title>portal</title><p>portal</p>'));
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })));
}

// CI installs the browser: a missing one fails there; elsewhere the suite is skipped with this reason.
const skip = !existsSync(CHROMIUM) && !process.env['CI'];

describe.skipIf(skip)(`the web console in headless Chromium (${CHROMIUM}) against a 3-node cluster`, () => {
  let cc: ConsoleCluster;
  let browser: Browser;
  let page: Page;
  let allowed: Awaited<ReturnType<typeof portal>>;
  let other: Awaited<ReturnType<typeof portal>>;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    rmSync(SCREENSHOTS, { recursive: true, force: true });
    mkdirSync(SCREENSHOTS, { recursive: true });
    [allowed, other] = await Promise.all([portal(), portal()]);
    [cc, browser] = await Promise.all([
      startConsoleCluster({ corsOrigins: [allowed.origin] }),
      puppeteer.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true }),
    ]);
    ids['acme'] = await cc.create(cc.tenant('acme'), 1, 'acme-db');
    ids['globex'] = await cc.create(cc.tenant('globex'), 0, 'globex-web');
    page = await browser.newPage();
    await page.setViewport({ width: 1400, height: 980 });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await cc?.close();
    allowed?.server.close();
    other?.server.close();
  });

  const signIn = async (token: string) => {
    await page.goto(`${cc.nodes[0]!.url}/ui/`);
    await page.evaluate(() => sessionStorage.clear());
    await page.reload();
    await page.waitForSelector('[data-testid=token]');
    await page.type('[data-testid=token]', token);
    await page.click('[data-testid=signin]');
  };
  const rowOf = (id: string) => `[data-testid=computes] tr[data-compute="${id}"]`;
  const cell = (id: string, which: string) => page.$eval(`${rowOf(id)} [data-testid=${which}]`, (el) => el.textContent);

  it('refuses a token the node does not accept', async () => {
    await signIn('dsc1.not-a-token');
    const error = await page.waitForSelector('[data-testid=signin-error]', { timeout: 10_000 });
    expect(await error!.evaluate((el) => el.textContent)).toMatch(/not valid/);
  });

  it('signs in with the admin token and draws the three nodes on the Vivaldi plane, linked by their measured RTTs', async () => {
    await signIn(cc.admin);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=plane-node]').length === 3, { timeout: 15_000 });
    const drawn = await page.$$eval('[data-testid=plane-node]', (els) => els.map((e) => e.getAttribute('data-node')).sort());
    expect(drawn).toEqual([...NAMES].sort());
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=plane-link]').length === 3, { timeout: 20_000 });
    expect(await page.$eval('[data-testid=whoami]', (el) => el.textContent)).toContain('admin');
    await page.waitForFunction(() => document.querySelector('[data-testid=stream]')?.textContent?.includes('live'), { timeout: 10_000 });
    // The admin sees both tenants' computes, with their owners.
    await page.waitForSelector(rowOf(ids['acme']!));
    expect(await cell(ids['acme']!, 'compute-owner')).toBe('acme');
    expect(await cell(ids['globex']!, 'compute-owner')).toBe('globex');
    await page.screenshot({ path: join(SCREENSHOTS, 'console-mesh.png') });
  }, 60_000);

  it('creates a compute near JP from the page: it appears on the JP node; then stops it', async () => {
    await page.$eval('[data-testid=create-title]', (el) => ((el as HTMLInputElement).value = ''));
    await page.type('[data-testid=create-title]', 'web-jp');
    await page.select('[data-testid=create-near]', 'JP');
    await page.click('[data-testid=create]');
    const id = await until('web-jp listed in the page', () =>
      page.evaluate(() => [...document.querySelectorAll('[data-testid=computes] tr[data-compute]')].find((tr) => tr.textContent?.includes('web-jp'))?.getAttribute('data-compute') ?? undefined),
    );
    ids['web-jp'] = id;
    expect(cc.nodes[2]!.service.holds(id)).toBe(true);
    await until('web-jp shown on node-jp', async () => (await cell(id, 'compute-node')) === 'node-jp');
    await page.waitForFunction(() => document.querySelector('[data-node="node-jp"] .count')?.textContent === '1', { timeout: 10_000 });

    await page.click(`${rowOf(id)} button[data-action=stop]`);
    await until('web-jp inactive in the page', async () => (await cell(id, 'compute-state')) === 'inactive', 20_000);
    expect(cc.nodes[2]!.service.entityAt(`/compute/${id}`)?.attributes['occi.compute.state']).toBe('inactive');
    // The stream told the page too: its events come apart from the page's reads, and may follow them on a loaded machine.
    const types = () => page.$$eval('[data-testid=events] li', (lis) => lis.map((li) => li.getAttribute('data-type')));
    const wanted = ['compute.admitted', 'compute.state'];
    await until('the admission and the state change in the events', async () => {
      const seen = await types();
      return wanted.every((t) => seen.includes(t));
    }, 10_000).catch(() => undefined);
    expect(await types()).toEqual(expect.arrayContaining(wanted));
  }, 60_000);

  it('draws a migration when a load change overloads the JP node', async () => {
    const jp = cc.nodes[2]!;
    const busy: string[] = [];
    for (let i = 0; i < 3; i++) {
      // Monitoring sees the previous ones idle first (a CPU-time delta), as in test/cluster/rebalancing.test.ts.
      await until('idle computes on node-jp', async () => {
        await jp.cloud!.sample();
        return jp.cloud!.monitor.usage().cpu <= busy.length * 25 + 5;
      });
      busy.push(await cc.create(cc.admin, 0, `busy-${i}`, 'JP'));
    }
    expect(busy.every((id) => jp.service.holds(id))).toBe(true);
    for (const id of busy) cc.sim(2).setLoad(id, 100, 512);
    const arrow = await page.waitForSelector('[data-testid=migration]', { timeout: 45_000 });
    const vm = await arrow!.evaluate((el) => el.getAttribute('data-vm'));
    expect(busy).toContain(vm);
    await page.screenshot({ path: join(SCREENSHOTS, 'console-migration.png') });
    await until('the migrated compute held elsewhere', () => !jp.service.holds(vm!) && cc.nodes.some((n) => n.service.holds(vm!)), 30_000);
    const seen = await page.$$eval('[data-testid=events] li', (lis) => lis.map((li) => li.getAttribute('data-type')));
    expect(seen).toEqual(expect.arrayContaining(['migration.started', 'partition.joined']));
    // Idle again, so that what follows runs on a quiet mesh.
    for (const id of busy.filter((b) => jp.service.holds(b))) cc.sim(2).setLoad(id, 0, 512);
  }, 120_000);

  it("shows a tenant its own computes only, never another tenant's", async () => {
    await page.click('[data-testid=signout]');
    await signIn(cc.tenant('acme'));
    await page.waitForSelector(rowOf(ids['acme']!), { timeout: 15_000 });
    expect(await page.$eval('[data-testid=whoami]', (el) => el.textContent)).toContain('tenant acme');
    expect(await cell(ids['acme']!, 'compute-owner')).toBe('acme');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=plane-node]').length === 3, { timeout: 15_000 });
    const rows = await page.$$eval('[data-testid=computes] tr[data-compute]', (trs) => trs.map((tr) => tr.getAttribute('data-compute')));
    expect(rows).toEqual([ids['acme']]);
    const text = await page.evaluate(() => document.body.innerText);
    expect(text).not.toContain('globex');
    expect(text).not.toContain(ids['globex']!.slice(0, 8));
    expect(text).not.toContain('web-jp');
    await page.screenshot({ path: join(SCREENSHOTS, 'console-tenant.png') });
  }, 60_000);

  it("lets a tenant suspend, start, read the console of and delete its compute held by another node", async () => {
    const id = ids['acme']!;
    const holder = cc.nodes.find((n) => n.service.holds(id))!;
    expect(holder).not.toBe(cc.nodes[0]);
    const stateIs = (state: string) => until(`acme-db ${state} in the page`, async () => (await cell(id, 'compute-state')) === state, 20_000);
    await page.click(`${rowOf(id)} button[data-action=suspend]`);
    await stateIs('suspended');
    expect(holder.service.entityAt(`/compute/${id}`)?.attributes['occi.compute.state']).toBe('suspended');
    await page.click(`${rowOf(id)} button[data-action=start]`);
    await stateIs('active');
    // The console log is asked of the holder through the node the page signed in to; a simulated guest has none, and the page says so.
    await page.click(`${rowOf(id)} button[data-action=console]`);
    const log = await page.waitForSelector('[data-testid=console-log]', { timeout: 10_000 });
    expect(await log!.evaluate((el) => el.textContent)).toMatch(/no console/);
    await page.click(`${rowOf(id)} button[data-action=delete]`);
    await until('acme-db gone from the page', async () => (await page.$(rowOf(id))) === null, 20_000);
    expect(cc.nodes.some((n) => n.service.holds(id))).toBe(false);
  }, 60_000);

  it('answers a portal on an allowed origin (preflight, token, exposed Location) and keeps other origins out', async () => {
    const api = cc.nodes[1]!.url;
    const call = (token: string) =>
      page.evaluate(
        async (url, t) => {
          try {
            const res = await fetch(`${url}/compute/`, {
              method: 'POST',
              headers: { 'X-Auth-Token': t, 'Content-Type': 'application/occi+json', Accept: 'application/occi+json' },
              body: JSON.stringify({ kind: 'http://schemas.ogf.org/occi/infrastructure#compute', attributes: { 'occi.core.title': 'from-portal' } }),
            });
            return { status: res.status, location: res.headers.get('Location') };
          } catch (err) {
            return { error: String(err) };
          }
        },
        api,
        token,
      );
    await page.goto(allowed.origin);
    const made = await call(cc.tenant('acme'));
    expect(made.status).toBe(201);
    expect(made.location).toMatch(/\/compute\/[0-9a-f-]{36}$/);
    await page.goto(other.origin);
    expect(await call(cc.tenant('acme'))).toEqual({ error: expect.stringMatching(/Failed to fetch/) });
  }, 60_000);
});

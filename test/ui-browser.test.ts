import fs from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { chromium, type BrowserContext } from 'playwright-core';
import { createApp } from '../services/http/app.ts';
import type { System } from '../services/system.ts';
import { reservaInput, startSystem, TEST_ADMIN_TOKEN, waitForStatus } from './support/system.ts';

/** Debian's Chromium, installed by the project's setup (never downloaded by Playwright). */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
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
/** Screenshots of this test, kept by CI as artifacts (the folder is git-ignored). */
const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/', import.meta.url));

describe('saga UI in a browser (headless Chromium)', function () {
  this.timeout(60_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'saga-ui-browser-'));
  let system: System | undefined;
  let server: Server | undefined;
  let browser: BrowserContext | undefined;
  let base: string;

  before(async function () {
    if (!fs.existsSync(CHROMIUM)) {
      if (process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: the CI image must install Debian's chromium package`);
      console.log(`      (skipped: ${CHROMIUM} is not installed; apt-get install chromium to run this test)`);
      this.skip();
    }
    system = await startSystem(`sqlite:${path.join(dir, 'ui.db')}`);
    server = await new Promise<Server>((resolve) => {
      const s = createApp(system!, { log: () => {} }).listen(0, '127.0.0.1', () => resolve(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // A fresh profile in a temporary folder: nothing from, or left to, other runs.
    browser = await chromium.launchPersistentContext(path.join(dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1440, height: 900 },
    });
  });

  after(async function () {
    await browser?.close();
    server?.closeAllConnections();
    if (server) await new Promise((resolve) => server!.close(resolve));
    await system?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('should show a running saga and follow it live to its final state, then save a screenshot', async function () {
    // Pagos never answers: the saga waits in `pagando` until its 2 s deadline compensates it.
    const input = reservaInput({ simular_fallo: 'timeout-pago', plazos: { paso: 2_000 } });
    await system!.requestReserva(input);
    const id = input.id_correlacion;
    for (const until = Date.now() + 5_000; (await system!.store.getInstance('reserva', id))?.stateValue !== 'pagando'; ) {
      if (Date.now() > until) throw new Error(`saga ${id} never reached pagando`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }

    const page = await browser!.newPage();
    const failures: string[] = [];
    page.on('pageerror', (error) => failures.push(error.message));
    page.on('requestfailed', (request) => {
      if (!request.url().includes('/stream')) failures.push(`${request.url()}: ${request.failure()?.errorText}`);
    });
    let navigations = 0;
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) navigations++;
    });

    await page.goto(`${base}/ui/sagas/${id}`);
    navigations = 0;

    const state = page.locator('#saga [data-field="state"]');
    expect(await state.textContent()).to.equal('pagando');
    expect(await page.locator('#chart g.sc-state.active').getAttribute('id')).to.equal('state-pagando');
    expect(await page.locator('#accepts li[data-event]').evaluateAll((items) => items.map((li) => li.getAttribute('data-event')))).to.deep.equal([
      'ReservaPagada',
      'PagoFallido',
    ]);
    expect(await page.locator('#deadlines .countdown').textContent()).to.match(/^in \d\.\d s$|^due now$/);
    await page.locator('#live.on').waitFor({ timeout: 5_000 }); // the event stream is open
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'ui-saga-running.png'), fullPage: true });

    // No reload: the server-sent events swap in each new state until the saga is final.
    await page.waitForFunction(() => document.querySelector('#saga [data-field="state"]')?.textContent === 'compensada', undefined, { timeout: 20_000 });
    expect(navigations).to.equal(0);
    expect(await page.locator('#chart g.sc-state.active').getAttribute('id')).to.equal('state-compensada');
    expect(await page.locator('#saga .badge').first().textContent()).to.equal('compensated');
    await page.locator('#live.done').waitFor({ timeout: 5_000 });
    expect(await page.locator('#timeline tr[data-seq]').count()).to.equal((await system!.store.readLog('reserva', id)).length);
    expect(await page.locator('#timeline tr.kind-timer code').first().textContent()).to.match(/^xstate\.after\.plazoPaso/);
    expect(await page.locator('#deadlines').textContent()).to.include('None.');
    expect(await page.title()).to.include('compensada');

    const file = path.join(ARTIFACTS, 'ui-saga.png');
    await page.screenshot({ path: file, fullPage: true });
    expect(fs.statSync(file).size).to.be.greaterThan(10_000);

    // The list, newest first, links to it with its final status.
    await page.goto(`${base}/ui`);
    const row = page.locator('#rows tr').first();
    expect(await row.getAttribute('data-id')).to.equal(id);
    expect(await row.locator('.badge').textContent()).to.equal('compensated');
    expect(await row.locator('code.state').textContent()).to.equal('compensada');
    await page.screenshot({ path: path.join(ARTIFACTS, 'ui-list.png') });
    await row.locator('a').click();
    await page.waitForURL(`${base}/ui/sagas/${id}?type=reserva`);
    expect(await page.locator('#live').textContent()).to.equal('final');
    expect(failures).to.deep.equal([]);
  });

  it('should repair a saga in manual repair from its page: the token asked once, a preview first, then Apply', async function () {
    const input = reservaInput({ simular_fallo: 'revertir-pago', maxReintentos: 2, plazos: { compensacion: 100 } });
    await system!.runtime.startSaga('reserva', input, { id: input.id_correlacion });
    const id = input.id_correlacion;
    await waitForStatus(system!, id, 'failed');

    const page = await browser!.newPage();
    const failures: string[] = [];
    page.on('pageerror', (error) => failures.push(error.message));
    const prompts: string[] = [];
    page.on('dialog', (dialog) => {
      prompts.push(dialog.message());
      void dialog.accept(TEST_ADMIN_TOKEN);
    });
    await page.goto(`${base}/ui/sagas/${id}`);
    const panel = page.locator('#repair');
    expect(await panel.locator('input[name="event"]').evaluateAll((inputs) => inputs.map((i) => (i as HTMLInputElement).value))).to.deep.equal(['ReintentarCompensacion', 'MarcarResuelta']);
    const apply = panel.locator('[data-repair="apply"]');
    expect(await apply.isDisabled(), 'Apply waits for a preview').to.equal(true);

    await panel.locator('input[name="data"]').fill('{"simular_fallo": null}');
    await panel.locator('input[name="reason"]').fill('pasarela restablecida');
    const logBefore = (await system!.store.readLog('reserva', id)).length;
    await panel.locator('[data-repair="preview"]').click();
    await page.waitForFunction(() => document.getElementById('repair-preview')?.textContent?.startsWith('Would go'), undefined, { timeout: 5_000 });
    expect(await page.locator('#repair-preview').textContent()).to.include('reparacionManual (failed) -> revirtiendoPago (running)').and.include('RevertirPago -> comando-revertir-pago');
    expect((await system!.store.readLog('reserva', id)).length, 'the preview wrote nothing').to.equal(logBefore);
    expect(prompts, 'the token is asked for once').to.have.length(1);

    // Changing the form asks for a new preview.
    await panel.locator('input[name="reason"]').fill('pasarela restablecida, ticket 4711');
    expect(await apply.isDisabled()).to.equal(true);
    await panel.locator('[data-repair="preview"]').click();
    await page.waitForFunction(() => !(document.querySelector('[data-repair="apply"]') as HTMLButtonElement).disabled, undefined, { timeout: 5_000 });
    await apply.click();
    await waitForStatus(system!, id, 'compensated');
    expect(prompts, 'kept for the tab').to.have.length(1);
    const repair = (await system!.store.readLog('reserva', id)).find((e) => e.kind === 'repair');
    expect(repair?.payload).to.deep.include({ reason: 'pasarela restablecida, ticket 4711', data: { simular_fallo: null } });
    expect(failures).to.deep.equal([]);
  });
});

/**
 * The peer app in a real browser against real processes: three cloud servers sharing one
 * SQLite directory, and two `cloudp2p peer ui` programs (alice and bob), each driven from its
 * own browser context. Everything happens in the pages: register, sign in, encrypt, the
 * gallery, request → accept → view until the default image shows, asking for more views, a
 * quota change while the viewer is signed out (marked as waiting, applied at sign-in), adding
 * and revoking viewers, sign out. Live updates arrive without a reload. Screenshots of the key
 * screens go to test-artifacts/e2e/.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packagePath } from '../../src/util/package-info.js';
import {
  DEADLINE,
  TEST_TIMEOUT_MS,
  serversOf,
  startTestCluster,
  type TestCluster,
} from '../integration/helpers/cluster-fixture.js';
import {
  ARTIFACTS_DIR,
  browserAvailability,
  launchBrowser,
  screenshot,
  watchPageErrors,
} from './helpers/browser.js';
import {
  linkIn,
  peerCommand,
  requirePeerBuild,
  startPeerUi,
  type PeerEnv,
  type PeerUiProcess,
} from './helpers/peer-ui.js';

const availability = browserAvailability();
/**
 * Waits for things the cloud or another agent does (a copy, a heartbeat of 5 s, a sign-in).
 * Each test may take TEST_TIMEOUT_MS (a deadline for failure, not speed: on a busy machine the
 * whole story takes minutes).
 */
const WAIT_MS = DEADLINE.progress_ms;
const PHOTO_PATH = packagePath('assets', 'samples', 'photo.jpg');
const SMALL_PATH = packagePath('assets', 'samples', 'small.png');
/** Sizes that tell the pictures apart: the shared photo, and the default image (the cover). */
const PHOTO_WIDTH = 1024;
const DEFAULT_IMAGE_WIDTH = 1280;

interface User {
  name: string;
  ui: PeerUiProcess;
  context: BrowserContext;
  page: Page;
  errors: string[];
  /** Every URL the page requested (the API token must be in none). */
  urls: string[];
}

async function openUser(browser: Browser, name: string, ui: PeerUiProcess): Promise<User> {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 900 },
    reducedMotion: 'reduce',
  });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  const errors = watchPageErrors(page);
  // Nothing may come from the internet: every request goes to the user's own program.
  const origin = new URL(ui.url).origin;
  const urls: string[] = [];
  page.on('request', (request) => {
    const url = request.url();
    urls.push(url);
    if (!url.startsWith(`${origin}/`) && !url.startsWith('blob:') && !url.startsWith('data:'))
      errors.push(`request to another origin: ${url}`);
  });
  await page.goto(ui.url);
  return { name, ui, context, page, errors, urls };
}

async function go(user: User, section: 'images' | 'people' | 'requests' | 'received') {
  await user.page.getByTestId(`nav-${section}`).click();
  await user.page.locator(`[data-testid="nav-${section}"][aria-current="page"]`).waitFor();
}

/** Opens a received image in the viewer; returns what it showed and closes it with Escape. */
async function viewOnce(
  user: User,
  owner: string,
  imageId: string,
): Promise<{ verdict: string; width: number; caption: string; heading: string }> {
  const page = user.page;
  await page.getByTestId(`open-${owner}-${imageId}`).click();
  const image = page.getByTestId('viewer-image');
  await image.waitFor();
  await expect.poll(() => image.evaluate((img: { complete: boolean }) => img.complete)).toBe(true);
  const result = {
    verdict: (await image.getAttribute('data-verdict')) ?? '',
    width: await image.evaluate((img: { naturalWidth: number }) => img.naturalWidth),
    caption: (await page.getByTestId('viewer-caption').textContent()) ?? '',
    heading: (await page.getByTestId('viewer-title').textContent()) ?? '',
  };
  return result;
}

async function closeViewer(user: User): Promise<void> {
  // Keyboard: Escape closes the modal dialog and focus returns to the page.
  await user.page.keyboard.press('Escape');
  await user.page.getByTestId('viewer').waitFor({ state: 'hidden' });
}

async function textOf(locator: Locator): Promise<string> {
  return ((await locator.textContent()) ?? '').replace(/\s+/g, ' ').trim();
}

describe.skipIf(!availability.run)('peer app in Chromium', { timeout: TEST_TIMEOUT_MS }, () => {
  let browser: Browser | null = null;
  let cloud: TestCluster | null = null;
  let root = '';
  let env: PeerEnv = { servers: '', logDir: '' };
  const uis: PeerUiProcess[] = [];
  const users: User[] = [];

  beforeAll(async () => {
    requirePeerBuild();
    root = mkdtempSync(join(tmpdir(), 'cloudp2p-e2e-peer-'));
    const [launched, started] = await Promise.all([
      launchBrowser(),
      startTestCluster({ size: 3, directoryUrl: 'sqlite:directory.sqlite' }),
    ]);
    browser = launched;
    cloud = started;
    await cloud.cluster.waitForLeader(DEADLINE.start_ms);
    // The agents (spawned CLI processes inherit this) trust this test cloud's CA.
    if (cloud.cluster.caPath) process.env.CLOUDP2P_CLOUD_CA = cloud.cluster.caPath;
    env = {
      servers: serversOf(cloud.cluster)
        .map((s) => `${s.host}:${s.port}`)
        .join(','),
      logDir: join(ARTIFACTS_DIR, 'logs-peer-app'),
    };
  }, TEST_TIMEOUT_MS);

  afterAll(async () => {
    for (const user of users) await user.context.close().catch(() => undefined);
    await browser?.close();
    await Promise.allSettled(uis.map((ui) => ui.stop()));
    // The background agent of the second test, if it is still running.
    if (root) await peerCommand(env, join(root, 'carol'), ['logout']).catch(() => undefined);
    await cloud?.cleanup();
    if (root && !process.env.CLOUDP2P_KEEP_TEST_DIRS)
      rmSync(root, { recursive: true, force: true });
  }, 60_000);

  it('two users share an image: request, accept, view until the default image, offline quota change', async () => {
    const [aliceUi, bobUi] = await Promise.all([
      startPeerUi('alice', root, env),
      startPeerUi('bob', root, env),
    ]);
    uis.push(aliceUi, bobUi);
    const b = browser as Browser;
    const alice = await openUser(b, 'alice', aliceUi);
    const bob = await openUser(b, 'bob', bobUi);
    users.push(alice, bob);

    // ---- 1. Register and sign in, in the page (the one-time code leaves the address bar).
    await alice.page.getByRole('heading', { name: 'Welcome to cloudp2p' }).waitFor();
    expect(alice.page.url()).not.toContain('ticket=');
    await alice.page.getByLabel('Username').fill('alice');
    await screenshot(alice.page, 'peer-register');
    await alice.page.getByRole('button', { name: 'Register' }).click();
    await alice.page.getByTestId('signed-out').waitFor();
    await alice.page.getByRole('button', { name: 'Sign in as alice' }).click();
    await alice.page.getByTestId('online').filter({ hasText: 'Online' }).waitFor();

    // Errors in words: a bad name is refused in the page, a taken one by the directory.
    await bob.page.getByLabel('Username').fill('Bob Smith');
    await bob.page.getByRole('button', { name: 'Register' }).click();
    expect(await textOf(bob.page.getByRole('alert').first())).toMatch(/cannot be a username/);
    await bob.page.getByLabel('Username').fill('alice');
    await bob.page.getByRole('button', { name: 'Register' }).click();
    const taken = bob.page.getByRole('alert').filter({ hasText: 'already taken' });
    await taken.waitFor();
    // Says what is wrong, not "That cannot be done now".
    expect(await textOf(taken)).toMatch(/^⚠ That username is taken\. The username "alice" is/);
    await bob.page.getByLabel('Username').fill('bob');
    await bob.page.getByRole('button', { name: 'Register' }).click();
    await bob.page.getByRole('button', { name: 'Sign in as bob' }).click();
    await bob.page.getByTestId('online').filter({ hasText: 'Online' }).waitFor();

    // ---- 2. Alice encrypts an image through the cloud, with progress.
    await alice.page.getByLabel('Image (PNG or JPEG, at most 12 MiB)').setInputFiles(PHOTO_PATH);
    await alice.page.getByLabel('Title others see').fill('Harbour at dawn');
    await alice.page.getByRole('button', { name: 'Encrypt and offer' }).click();
    await alice.page.getByTestId('encrypt-done').waitFor();
    expect(await textOf(alice.page.getByTestId('encrypt-progress'))).toMatch(
      /assigned to server \d/,
    );
    const card = alice.page.locator('article', { hasText: 'Harbour at dawn' });
    await card.waitFor();
    const imageId = ((await card.getAttribute('data-testid')) ?? '').slice('own-'.length);
    expect(imageId).toMatch(/^i[a-z0-9]{11}$/);
    // A second image (alice adds bob as its viewer later, without a request).
    await alice.page.getByLabel('Image (PNG or JPEG, at most 12 MiB)').setInputFiles(SMALL_PATH);
    await alice.page.getByLabel('Title others see').fill('Small one');
    await alice.page.getByRole('button', { name: 'Encrypt and offer' }).click();
    await alice.page.getByTestId('encrypt-done').filter({ hasText: 'Small one' }).waitFor();
    const smallCard = alice.page.locator('article', { hasText: 'Small one' });
    const smallId = ((await smallCard.getAttribute('data-testid')) ?? '').slice('own-'.length);
    expect(smallId).toMatch(/^i[a-z0-9]{11}$/);
    await screenshot(alice.page, 'peer-my-images');
    // The encrypted PNG downloads through a blob (no tokened link).
    const [download] = await Promise.all([
      alice.page.waitForEvent('download'),
      alice.page
        .getByTestId(`own-${imageId}`)
        .getByRole('button', { name: /Download the encrypted PNG/ })
        .click(),
    ]);
    expect(download.suggestedFilename()).toBe(`${imageId}.stego.png`);
    expect(download.url()).toMatch(/^blob:/);

    // ---- 3. Bob sees alice online with previews (P2P), asks for 2 views of one, 1 of the other.
    await go(bob, 'people');
    const offer = bob.page.getByTestId(`offer-alice-${imageId}`);
    for (const id of [imageId, smallId]) {
      const preview = bob.page.getByTestId(`offer-alice-${id}`).locator('img');
      await expect
        .poll(() => preview.evaluate((img: { naturalWidth: number }) => img.naturalWidth), {
          timeout: WAIT_MS,
        })
        .toBeGreaterThan(0);
    }
    await offer.getByLabel('Views').fill('0');
    await offer.getByRole('button', { name: /^Request/ }).click();
    await offer.getByRole('alert').filter({ hasText: 'from 1 to 10000' }).waitFor();
    await offer.getByLabel('Views').fill('2');
    await offer.getByRole('button', { name: /^Request/ }).click();
    await offer.getByText('Asked alice for 2 views').waitFor();
    await screenshot(bob.page, 'peer-people');
    const smallOffer = bob.page.getByTestId(`offer-alice-${smallId}`);
    await smallOffer.getByLabel('Views').fill('1');
    await smallOffer.getByRole('button', { name: /^Request/ }).click();
    await smallOffer.getByText('Asked alice for 1 view').waitFor();

    // ---- 4. Alice sees the requests arrive live (no reload), declines one, accepts the other.
    await alice.page.getByTestId('requests-waiting').filter({ hasText: '2' }).waitFor();
    // Keyboard: focus the section link and press Enter.
    await alice.page.getByTestId('nav-requests').focus();
    await alice.page.keyboard.press('Enter');
    const request = alice.page.getByTestId(`request-bob-${imageId}`);
    await request.waitFor();
    expect(await textOf(request)).toContain('bob asks for 2 views of “Harbour at dawn”');
    await screenshot(alice.page, 'peer-inbox');
    const smallRequest = alice.page.getByTestId(`request-bob-${smallId}`);
    await smallRequest.getByRole('button', { name: /^Decline/ }).click();
    await smallRequest.waitFor({ state: 'detached' });
    // Alice allows bob 2 views while his agent cannot reach the cloud (signed into his copy).
    await request.getByLabel('Offline views').fill('2');
    await request.getByRole('button', { name: /^Accept/ }).click();
    await request.waitFor({ state: 'detached' });
    await alice.page.getByText('No requests wait for you.').waitFor();
    // Bob learns both answers (the decline through the directory, at his next heartbeat).
    await go(bob, 'requests');
    const sent = bob.page.getByTestId('sent');
    await sent.locator('li', { hasText: 'Small one' }).filter({ hasText: 'Declined' }).waitFor();
    await sent
      .locator('li', { hasText: 'Harbour at dawn' })
      .filter({ hasText: 'Accepted' })
      .waitFor();

    // ---- 5. Bob's copy arrives live; each opening uses a view; at zero the default image.
    await go(bob, 'received');
    const left = bob.page.getByTestId(`views-left-alice-${imageId}`);
    await left.filter({ hasText: '2 of 2 left' }).waitFor();
    // Both sides see the offline allowance alice chose.
    await bob.page
      .getByTestId(`offline-alice-${imageId}`)
      .filter({ hasText: 'alice allows 2 offline views within 24 hours' })
      .waitFor();
    await go(alice, 'images');
    await alice.page
      .getByTestId(`offline-${imageId}-bob`)
      .filter({ hasText: '2 offline views within 24 hours' })
      .waitFor();
    await go(alice, 'requests');
    await screenshot(bob.page, 'peer-received');
    let view = await viewOnce(bob, 'alice', imageId);
    expect(view).toMatchObject({ verdict: 'shown', width: PHOTO_WIDTH });
    expect(view.caption).toContain('1 view left');
    expect(view.heading).toBe('alice’s image “Harbour at dawn”');
    await screenshot(bob.page, 'peer-view-shown');
    await closeViewer(bob);
    await left.filter({ hasText: '1 of 2 left' }).waitFor();
    view = await viewOnce(bob, 'alice', imageId);
    expect(view).toMatchObject({ verdict: 'shown', width: PHOTO_WIDTH });
    expect(view.caption).toContain('last view');
    await closeViewer(bob);
    await left.filter({ hasText: 'No views left' }).waitFor();
    view = await viewOnce(bob, 'alice', imageId);
    expect(view).toMatchObject({ verdict: 'default', width: DEFAULT_IMAGE_WIDTH });
    expect(view.caption).toContain('Default image');
    // The default image is not the real picture: it does not carry its title.
    expect(view.heading).toBe('The default image, not alice’s image');
    expect(await textOf(bob.page.getByTestId('viewer'))).not.toContain('Harbour at dawn');
    await screenshot(bob.page, 'peer-view-default');
    await closeViewer(bob);

    // ---- 6. Bob asks for one more view; alice accepts; bob has 1 of 3.
    const received = bob.page.getByTestId(`received-alice-${imageId}`);
    await received.getByLabel('More views').fill('1');
    await received.getByRole('button', { name: /^Ask for more views/ }).click();
    await received.getByText('Asked alice for 1 more view').waitFor();
    const more = alice.page.getByTestId(`request-bob-${imageId}`);
    await more.filter({ hasText: '1 more view' }).waitFor();
    await more.getByRole('button', { name: /^Accept/ }).click();
    await left.filter({ hasText: '1 of 3 left' }).waitFor();

    // ---- 7. Bob signs out; alice changes his quota; it waits, marked, until he signs in.
    await bob.page.getByRole('button', { name: 'Sign out' }).click();
    await bob.page.getByTestId('signed-out').waitFor();
    await go(alice, 'images');
    const grant = alice.page.getByTestId(`grant-${imageId}-bob`);
    await grant.getByLabel('Total views for bob').fill('5');
    await grant.getByRole('button', { name: /^Save/ }).click();
    const delivery = alice.page.getByTestId(`delivery-${imageId}-bob`);
    await delivery.filter({ hasText: 'Waiting for viewer' }).waitFor();
    await alice.page.getByText('1 change waiting for an offline viewer').waitFor();
    await screenshot(alice.page, 'peer-grant-waiting');

    await bob.page.getByRole('button', { name: 'Sign in as bob' }).click();
    await bob.page.getByTestId('online').filter({ hasText: 'Online' }).waitFor();
    // The sign-in says what alice changed while he was away, also in Recent activity.
    const away = bob.page.getByTestId('away');
    await away
      .filter({ hasText: `alice changed your views of ${imageId}: 5 views in total` })
      .waitFor();
    await bob.page
      .getByTestId('activity')
      .filter({ hasText: `While you were away: alice changed your views of ${imageId}` })
      .waitFor();
    await screenshot(bob.page, 'peer-away');
    await away.getByRole('button', { name: 'Dismiss' }).click();
    await away.waitFor({ state: 'detached' });
    await go(bob, 'received');
    // 5 in total, 2 used (the default image uses none): applied at sign-in.
    await left.filter({ hasText: '3 of 5 left' }).waitFor();
    // Alice's mark clears once bob's agent has the signed update (her next heartbeat; if her
    // first try hit bob's old address, the retry waits 15 s).
    await delivery.filter({ hasText: 'Up to date' }).waitFor({ timeout: WAIT_MS + 15_000 });
    // Alice sees how many of his views bob used (the two shown; the default image uses none).
    await alice.page
      .getByTestId(`used-${imageId}-bob`)
      .filter({ hasText: '2 of 5 used · 3 left' })
      .waitFor();
    view = await viewOnce(bob, 'alice', imageId);
    expect(view).toMatchObject({ verdict: 'shown', width: PHOTO_WIDTH });
    expect(view.caption).toContain('2 views left');
    await closeViewer(bob);

    // ---- 8. Alice revokes bob (after a confirmation: "Keep access" changes nothing): his card
    // says so live, and opening shows the default image.
    await grant.getByRole('button', { name: /^Revoke/ }).click();
    expect(await textOf(grant.getByRole('group'))).toContain(
      'Revoke bob’s access to “Harbour at dawn”?',
    );
    await grant.getByRole('button', { name: /^Keep access/ }).click();
    await grant.getByRole('button', { name: /^Revoke/ }).waitFor();
    expect(await textOf(delivery)).toContain('Up to date');
    await grant.getByRole('button', { name: /^Revoke/ }).click();
    await grant.getByRole('button', { name: /^Yes, revoke/ }).click();
    await delivery.filter({ hasText: /Revoked|Waiting/ }).waitFor();
    await left.filter({ hasText: 'Access revoked' }).waitFor();
    view = await viewOnce(bob, 'alice', imageId);
    expect(view).toMatchObject({ verdict: 'default', width: DEFAULT_IMAGE_WIDTH });
    expect(view.caption).toContain('Default image');
    await closeViewer(bob);

    // ---- 9. Alice adds bob as a viewer of her second image directly (no request).
    await smallCard.getByLabel('Add a viewer').fill('bob');
    await smallCard.getByLabel('Views', { exact: true }).fill('1');
    await smallCard.getByLabel('Offline views').fill('0');
    await smallCard.getByRole('button', { name: /^Add viewer/ }).click();
    await bob.page
      .getByTestId(`views-left-alice-${smallId}`)
      .filter({ hasText: '1 of 1 left' })
      .waitFor();
    await bob.page
      .getByTestId(`offline-alice-${smallId}`)
      .filter({ hasText: 'alice allows no offline views' })
      .waitFor();
    await screenshot(bob.page, 'peer-received-two');

    // ---- 9b. Alice withdraws the second image (asked first): bob no longer sees it offered,
    // and keeps the views she gave him.
    await smallCard.getByRole('button', { name: /^Withdraw/ }).click();
    await smallCard.getByRole('button', { name: /^Yes, withdraw/ }).click();
    await alice.page
      .getByTestId(`offer-state-${smallId}`)
      .filter({ hasText: 'Withdrawn' })
      .waitFor();
    await go(bob, 'people');
    await bob.page.getByTestId(`offer-alice-${imageId}`).waitFor();
    await bob.page.getByTestId(`offer-alice-${smallId}`).waitFor({ state: 'detached' });
    await go(bob, 'received');
    await bob.page
      .getByTestId(`views-left-alice-${smallId}`)
      .filter({ hasText: '1 of 1 left' })
      .waitFor();

    // ---- 10. Basics a screen reader needs, checked on every page state we saw last.
    for (const user of [alice, bob]) {
      // (Browser-side callbacks: typed by shape, the test's TypeScript has no DOM library.)
      const unlabelled = await user.page
        .locator('input, select, textarea')
        .evaluateAll((fields: Array<{ labels: { length: number } | null; outerHTML: string }>) =>
          fields.filter((f) => !f.labels || f.labels.length === 0).map((f) => f.outerHTML),
        );
      expect(unlabelled).toEqual([]);
      const noAlt = await user.page
        .locator('img')
        .evaluateAll((images: Array<{ alt: string; src: string }>) =>
          images.filter((img) => !img.alt).map((img) => img.src),
        );
      expect(noAlt).toEqual([]);
    }

    // ---- 11. `cloudp2p peer ui` again prints a fresh link to the same program; a used one fails.
    const again = await aliceUi.newLink();
    expect(new URL(again).port).toBe(new URL(aliceUi.url).port);
    const third = await b.newContext();
    const late = await third.newPage();
    await late.goto(aliceUi.url); // already used
    await late
      .getByRole('heading', { name: 'This link was already used or has expired' })
      .waitFor({ timeout: WAIT_MS });
    // Said once, with the exact command for a new link (the data directory alice's used).
    expect(await textOf(late.getByTestId('link-command'))).toBe(
      `cloudp2p peer -d ${aliceUi.dataDir} ui`,
    );
    expect((await textOf(late.locator('main'))).match(/already used/g)).toHaveLength(1);
    await late.goto('about:blank');
    await late.goto(again);
    await late.getByTestId('online').filter({ hasText: 'Online' }).waitFor({ timeout: WAIT_MS });
    await third.close();

    // The API token travels in headers only: no URL the pages asked for holds it (previews,
    // the event stream, the downloaded PNG, the images viewed), nor any 64-hex secret.
    for (const user of [alice, bob]) {
      const token = await user.page.evaluate(
        // Runs in the page (no DOM types in this project).
        () =>
          (
            globalThis as unknown as { sessionStorage: { getItem(key: string): string | null } }
          ).sessionStorage.getItem('cloudp2p-peer-token'),
      );
      expect(token).toMatch(/^[0-9a-f]{64}$/);
      expect(user.urls.some((url) => url.includes('/api/events'))).toBe(true);
      expect(user.urls.some((url) => /\/previews?\b/.test(url))).toBe(true);
      expect(
        user.urls.filter((url) => url.includes(token as string) || /token=|[0-9a-f]{64}/.test(url)),
      ).toEqual([]);
    }
    expect(alice.errors).toEqual([]);
    // The browser logs the directory's refusal of the taken name; nothing else may go wrong.
    expect(bob.errors).toEqual([
      'console: Failed to load resource: the server responded with a status of 409 (Conflict)',
    ]);
  });

  it('opens the page of an agent started by `peer login`; signing out there stops the agent', async () => {
    const dataDir = join(root, 'carol');
    expect((await peerCommand(env, dataDir, ['register', 'carol'])).code).toBe(0);
    const login = await peerCommand(env, dataDir, ['login']);
    expect(login.code, login.stderr).toBe(0);
    const ui = await peerCommand(env, dataDir, ['ui', '--no-open']);
    const link = linkIn(ui.stdout);
    expect(ui.stdout).toContain('already running');
    expect(link).not.toBeNull();
    const context = await (browser as Browser).newContext({
      viewport: { width: 1280, height: 900 },
    });
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
    const errors = watchPageErrors(page);
    await page.goto(link as string);
    await page.getByRole('heading', { name: /cloudp2p · carol/ }).waitFor();
    await page.getByTestId('online').filter({ hasText: 'Online' }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByTestId('signed-out-agent').waitFor();
    // The agent signed out and stopped: its agent.json is gone, `peer status` says offline.
    await expect
      .poll(async () => (await peerCommand(env, dataDir, ['status'])).stdout, {
        timeout: WAIT_MS,
      })
      .toContain('no agent running');
    expect(errors).toEqual([]);
    await context.close();
  });
});

/**
 * `roomcount setup` end to end, in a real browser: the command (spawned as the CLI) watches an RTSP camera that
 * shows a photo of people; Debian's chromium, driven by playwright-core, draws an include and an exclude area
 * and moves minScore on the page, sees the count follow (checked against the detections the server sent), and
 * copies and saves the YAML. Screenshots go to $ROOMCOUNT_SCREENSHOT_DIR (default: the test's temp folder, removed).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { defaultCenterNetModelPath } from '../src/detect/centernet.js';
import { tempDir } from './helpers/media.js';
import { childrenOf, makeH264Clip, startRtspServer, type RtspServer } from './helpers/rtsp.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const PEOPLE_PHOTO = join(dirname(dirname(defaultCenterNetModelPath())), 'assets', 'samples.jpg');
const CAM_USER = 'installer';
const CAM_PASS = 'Cam-secret-5521';

/** Why this test cannot run here, if it cannot. */
function missing(): string | undefined {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is not installed (apt-get install chromium)`;
  try {
    execFileSync('/usr/bin/python3', [
      '-c',
      "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer",
    ]);
  } catch {
    return 'the GStreamer RTSP server (python3-gi, gir1.2-gst-rtsp-server-1.0) is not installed';
  }
  if (!existsSync(PEOPLE_PHOTO)) return `${PEOPLE_PHOTO} is missing (npm install)`;
  return undefined;
}
const skipWhy = missing();
if (skipWhy) console.warn(`setup-browser.test.ts skipped: ${skipWhy}`);

const CONFIG = (port: number, photo: string) => `# Floor 3 rooms (test)
sourceId: "setup test"            # free text
sink: stdout                      # nothing is sent
detector:
  model: centernet
  minScore: 0.3                   # the detector's threshold
defaults:
  sampleFps: 1                    # one frame a second
rooms:
  # The boardroom camera, over RTSP with a password.
  - id: boardroom                 # used in logs
    locationId: LOC-BOARD
    locationType: space
    camera:
      url: "rtsp://\${CAM_USER}:\${CAM_PASS}@127.0.0.1:${port}/test"
  - id: desk-7
    locationId: LOC-DESK
    locationType: place
    camera: { url: "${photo}" }   # a still photo
    region:
      include: [[0,0],[1,0],[1,1],[0,1]]
`;

interface SentDetection {
  box: [number, number, number, number];
  score: number;
  counted: boolean;
  reason?: string;
}
interface Recount {
  frame: { seq: number; width: number; height: number } | null;
  count: number | null;
  detections: SentDetection[];
  yaml: string;
}

type Rect = [number, number, number, number]; // x0, y0, x1, y1 (normalised)

/** The count the page should show, worked out here from the detections the server sent (bottom-centre anchor). */
function expectedCount(r: Recount, minScore: number, include: Rect[], exclude: Rect[]): number {
  const inside = (x: number, y: number, [x0, y0, x1, y1]: Rect) => x > x0 && x < x1 && y > y0 && y < y1;
  return r.detections.filter((d) => {
    const x = (d.box[0] + d.box[2]) / 2 / r.frame!.width;
    const y = Math.min(d.box[3] / r.frame!.height, 1 - 1e-9);
    return (
      d.score >= minScore &&
      (include.length === 0 || include.some((q) => inside(x, y, q))) &&
      !exclude.some((q) => inside(x, y, q))
    );
  }).length;
}

describe.skipIf(skipWhy !== undefined)('roomcount setup in chromium, on an RTSP camera', () => {
  const tmp = tempDir('roomcount-setup-browser-');
  const shotDir = process.env.ROOMCOUNT_SCREENSHOT_DIR ?? tmp.dir;
  const configFile = join(tmp.dir, 'roomcount.yaml');
  let camera: RtspServer;
  let child: ChildProcess;
  let stdout = '';
  let stderr = '';
  let url = '';
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];
  const requests: string[] = [];
  const frameResponses: { status: number; type: string; cache: string }[] = [];
  const ffmpegPids: number[] = [];

  beforeAll(async () => {
    const clip = makeH264Clip(join(tmp.dir, 'people.h264'), {
      width: 640,
      height: 580,
      fps: 10,
      seconds: 4,
      gop: 10,
      image: PEOPLE_PHOTO,
    });
    camera = await startRtspServer({ file: clip, user: CAM_USER, password: CAM_PASS });
    writeFileSync(configFile, CONFIG(camera.port, PEOPLE_PHOTO));
    child = spawn(
      process.execPath,
      [
        '--import',
        pathToFileURL(join(process.cwd(), 'node_modules/tsx/dist/loader.mjs')).href,
        join(process.cwd(), 'src/cli.ts'),
        ...['setup', '--config', configFile, '--write'],
      ],
      { env: { ...process.env, CAM_USER, CAM_PASS, LOG_LEVEL: 'warn' } },
    );
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL printed within 60 s: ${stderr}`)), 60_000);
      child.stdout!.on('data', (b: Buffer) => {
        stdout += b.toString();
        const m = /(http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/.exec(stdout);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      child.once('exit', (code) => reject(new Error(`setup exited (${code}): ${stderr}`)));
    });

    context = await chromium.launchPersistentContext(join(tmp.dir, 'chromium-profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1360, height: 940 },
    });
    const origin = new URL(url).origin;
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (msg) => {
      if (msg.type() === 'error') pageErrors.push(msg.text());
    });
    page.on('request', (req) => requests.push(req.url()));
    page.on('response', (res) => {
      if (new URL(res.url()).pathname === '/api/frame') {
        const h = res.headers();
        frameResponses.push({
          status: res.status(),
          type: h['content-type'] ?? '',
          cache: h['cache-control'] ?? '',
        });
      }
    });
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    await camera?.stop();
    tmp.cleanup();
  });

  /** Runs `action` and returns the recount answer it caused. */
  async function recountAfter(action: () => Promise<void>): Promise<Recount> {
    const answer = page.waitForResponse(
      (res) => new URL(res.url()).pathname === '/api/recount' && res.request().method() === 'POST',
    );
    await action();
    return (await (await answer).json()) as Recount;
  }

  const shownCount = () => page.locator('#count').textContent();
  /** Waits until an element's text passes `test` (the page updates after its recount answer arrives). */
  async function waitForText(selector: string, test: (text: string) => boolean): Promise<string> {
    const t0 = Date.now();
    for (;;) {
      const text = (await page.locator(selector).textContent()) ?? '';
      if (test(text)) return text;
      if (Date.now() - t0 > 10_000) throw new Error(`${selector} still reads "${text}"`);
      await page.waitForTimeout(50);
    }
  }
  const waitForCount = (n: number) => waitForText('#count', (t) => t === String(n));

  /** Clicks at normalised picture coordinates. */
  async function clickAt(x: number, y: number, double = false) {
    const box = (await page.locator('#frame').boundingBox())!;
    const position = { x: x * box.width, y: y * box.height };
    if (double) await page.locator('#frame').dblclick({ position });
    else await page.locator('#frame').click({ position });
  }

  it('refuses requests without the token', async () => {
    const base = new URL(url).origin;
    for (const path of ['/', '/api/rooms', '/api/frame?room=boardroom&seq=1', '/?token=wrong']) {
      expect((await fetch(base + path)).status, path).toBe(403);
    }
    const post = await fetch(`${base}/api/recount`, { method: 'POST', body: '{}' });
    expect(post.status).toBe(403);
  });

  it('shows the live frame with its detections and counts them; the areas and minScore change the count', async () => {
    let first = await recountAfter(() => page.goto(url).then(() => undefined));
    for (let i = 0; i < 40 && !first.frame; i++) first = await recountAfter(() => page.waitForTimeout(0));
    expect(first.frame, 'a frame from the RTSP camera').toBeTruthy();
    await page.locator('#auto').uncheck(); // no refreshes racing the edits below
    await waitForCount(first.count!);
    const all = Number(await shownCount());
    expect(all).toBe(expectedCount(first, 0.3, [], []));
    expect(all, 'people found in the photo').toBeGreaterThanOrEqual(3);
    expect(
      first.detections.some((d) => d.reason === 'below minScore'),
      'near misses are shown',
    ).toBe(true);
    await page.locator('#placeholder').waitFor({ state: 'hidden' });

    // An include area over the left half.
    const left: Rect = [0.02, 0.02, 0.5, 0.98];
    await page.getByRole('button', { name: 'New include area' }).click();
    await clickAt(left[0], left[1]);
    await clickAt(left[2], left[1]);
    await clickAt(left[2], left[3]);
    await clickAt(left[0], left[3]);
    const withInclude = await recountAfter(() => page.getByRole('button', { name: 'Done' }).click());
    const inLeft = expectedCount(withInclude, 0.3, [left], []);
    expect(inLeft, 'the left half holds fewer people than the whole picture').toBeLessThan(all);
    await waitForCount(inLeft);
    let yaml = await page.locator('#yaml').textContent();
    const include = /include: (\[\[.*\]\])\n/.exec(yaml!)?.[1];
    expect(JSON.parse(include!)).toHaveLength(4);
    (JSON.parse(include!) as number[][]).forEach(([x, y], i) => {
      const want = [
        [left[0], left[1]],
        [left[2], left[1]],
        [left[2], left[3]],
        [left[0], left[3]],
      ][i]!;
      expect(Math.abs(x! - want[0]!) + Math.abs(y! - want[1]!)).toBeLessThan(0.01);
    });

    // An exclude area closed with a double-click: its clicks make one point, not three.
    const counted = withInclude.detections.filter((d) => d.counted);
    const target = counted[0]!;
    const fx = (target.box[0] + target.box[2]) / 2 / withInclude.frame!.width;
    const fy = target.box[3] / withInclude.frame!.height;
    const hole: Rect = [Math.max(0, fx - 0.03), Math.max(0, fy - 0.06), fx + 0.03, Math.min(1, fy + 0.015)];
    await page.getByRole('button', { name: 'New exclude area' }).click();
    await clickAt(hole[0], hole[1]);
    await clickAt(hole[2], hole[1]);
    await clickAt(hole[2], hole[3]);
    if (process.env.ROOMCOUNT_SCREENSHOT_DIR) {
      mkdirSync(shotDir, { recursive: true });
      await page.screenshot({ path: join(shotDir, 'setup-drawing.png') }); // an area being drawn
    }
    const withExclude = await recountAfter(() => clickAt(hole[0], hole[3], true));
    const afterHole = expectedCount(withExclude, 0.3, [left], [hole]);
    expect(afterHole).toBeLessThan(inLeft);
    await waitForCount(afterHole);
    yaml = await page.locator('#yaml').textContent();
    expect(JSON.parse(/exclude: (\[\[.*\]\])\n/.exec(yaml!)![1]!)).toHaveLength(4);

    // Hovering a box says why it counts or not.
    const ignored =
      withExclude.detections.find((d) => d.reason === 'outside region') ??
      withExclude.detections.find((d) => !d.counted);
    const frameBox = (await page.locator('#frame').boundingBox())!;
    const k = frameBox.width / withExclude.frame!.width;
    const [hx, hy] = [(ignored!.box[0] + ignored!.box[2]) / 2, ignored!.box[3] - 4 / k];
    await page.mouse.move(frameBox.x + hx * k, frameBox.y + hy * k);
    // The page describes the smallest box under the pointer.
    const under = withExclude.detections
      .filter((d) => hx >= d.box[0] && hx <= d.box[2] && hy >= d.box[1] && hy <= d.box[3])
      .sort(
        (a, b) =>
          (a.box[2] - a.box[0]) * (a.box[3] - a.box[1]) - (b.box[2] - b.box[0]) * (b.box[3] - b.box[1]),
      )[0]!;
    const hoverText = `score ${under.score.toFixed(2)} · ${under.counted ? 'counted' : `not counted: ${under.reason}`}`;
    await waitForText('#hover', (t) => t === hoverText);

    mkdirSync(shotDir, { recursive: true });
    await page.screenshot({ path: join(shotDir, 'setup-page.png'), fullPage: true });

    // minScore up: weaker detections stop counting.
    const scores = withExclude.detections.filter((d) => d.counted).map((d) => d.score);
    const higher = Math.floor(Math.max(...scores) * 100) / 100; // the strongest still counts
    const raised = await recountAfter(() => page.locator('#minScore').fill(String(higher)));
    const atHigher = expectedCount(raised, higher, [left], [hole]);
    expect(atHigher).toBeGreaterThanOrEqual(1);
    expect(atHigher, `scores counted before: ${scores.join(', ')}`).toBeLessThan(afterHole);
    await waitForCount(atHigher);
    expect(await page.locator('#minScoreValue').textContent()).toBe(higher.toFixed(2));
    yaml = await page.locator('#yaml').textContent();
    expect(yaml).toContain(`minScore: ${higher}\n`);
    expect(yaml).toMatch(
      /^minScore: .*\nregion:\n {2}include: \[\[.*\]\]\n {2}exclude: \[\[.*\]\]\n {2}anchor: bottom-center\n$/,
    );

    // Copy puts the YAML on the clipboard.
    await page.getByRole('button', { name: 'Copy' }).click();
    await waitForText('#message', (t) => t === 'Copied.');
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(yaml);

    // Save writes it into the file; the rest of the file stays as it was.
    const before = readFileSync(configFile, 'utf8');
    await page.getByRole('button', { name: 'Save to roomcount.yaml' }).click();
    await waitForText('#message', (t) => t.startsWith('Saved room boardroom'));
    const after = readFileSync(configFile, 'utf8').split('\n');
    const old = before.split('\n');
    // One block of lines inserted into the boardroom; every other line as it was.
    const at = old.findIndex((line, i) => line !== after[i]);
    const inserted = after.slice(at, at + after.length - old.length);
    expect([...after.slice(0, at), ...after.slice(at + inserted.length)]).toEqual(old);
    expect(inserted.map((l) => l.trim().split(':')[0])).toEqual([
      'minScore',
      'region',
      'include',
      'exclude',
      'anchor',
    ]);
    expect(old[at - 1]).toContain('url: "rtsp://');
    const saved = loadConfig(configFile, { ...process.env, CAM_USER, CAM_PASS });
    const room = saved.rooms.find((r) => r.id === 'boardroom')!;
    expect(room.minScore).toBe(higher);
    // The page shows one polygon; the parsed config holds regions as lists of polygons.
    expect(room.region.include).toEqual([JSON.parse(include!)]);
    expect(saved.rooms.find((r) => r.id === 'desk-7')!.region.include).toEqual([
      [
        [0, 0],
        [1, 0],
        [1, 1],
        [0, 1],
      ],
    ]);
  });

  it("switches rooms: the other room's camera, region and YAML", async () => {
    let desk = await recountAfter(() => page.getByRole('tab', { name: 'desk-7' }).click());
    for (let i = 0; i < 40 && !desk.frame; i++) desk = await recountAfter(() => page.waitForTimeout(0));
    expect(desk.frame, 'a frame from the photo camera').toBeTruthy();
    await waitForCount(expectedCount(desk, 0.3, [], []));
    expect(await page.locator('#yaml').textContent()).toBe(
      'region:\n  include: [[0, 0], [1, 0], [1, 1], [0, 1]]\n  exclude: []\n  anchor: bottom-center\n',
    );
    expect(await page.locator('#areas li').count()).toBe(1);
    expect(await page.getByRole('tab', { name: 'desk-7' }).getAttribute('aria-selected')).toBe('true');
  });

  it('served frames only to the page, as uncached JPEG, loaded nothing from elsewhere, and showed no secrets', async () => {
    const origin = new URL(url).origin;
    expect(requests.filter((u) => !u.startsWith(origin) && !/^(data|blob):/.test(u))).toEqual([]);
    expect(frameResponses.length).toBeGreaterThan(0);
    for (const r of frameResponses) expect(r).toEqual({ status: 200, type: 'image/jpeg', cache: 'no-store' });
    expect(pageErrors).toEqual([]);
    const html = await page.content();
    const rooms = await page.evaluate("fetch('/api/rooms' + location.search).then((r) => r.text())");
    for (const text of [html, rooms, stdout, stderr]) expect(text).not.toContain(CAM_PASS);
    expect(readFileSync(configFile, 'utf8')).toContain('${CAM_PASS}'); // the file keeps the reference
  });

  it('stops its cameras and exits 0 on SIGINT', async () => {
    // Its ffmpeg children (tsx's esbuild service is a child too, and leaves on its own).
    for (const pid of childrenOf(child.pid!)) {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'ffmpeg') ffmpegPids.push(pid);
    }
    expect(ffmpegPids.length, 'both rooms had a camera running').toBe(2);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    const alive = ffmpegPids.filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    expect(alive).toEqual([]);
  });
});

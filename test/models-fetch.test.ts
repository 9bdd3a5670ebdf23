import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchModel, listModels } from '../src/commands/models.js';
import { autoCandidates, modelDescriptor } from '../src/detect/models.js';
import { sha256Hex } from '../src/detect/model-file.js';
import { textSink } from './helpers/streams.js';

/**
 * `roomcount models fetch` against a local HTTP server (our build machines cannot reach the pinned hosts): the
 * server serves the team's copies from ../shared/models, a corrupted copy, and errors.
 */
const SHARED = path.resolve('../shared/models');
const haveShared = existsSync(path.join(SHARED, 'rtmdet_nano_person.onnx'));
if (!haveShared)
  console.warn(`models-fetch.test.ts: ${SHARED} not found; skipping the downloads of real files`);

describe('roomcount models fetch', () => {
  let server: Server;
  let base = '';
  const requests: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      requests.push(req.url ?? '');
      const name = (req.url ?? '').replace(/^\//, '');
      if (name === 'broken.onnx' && haveShared) {
        const bytes = readFileSync(path.join(SHARED, 'rtmdet_nano_person.onnx'));
        bytes[1000]! ^= 0xff;
        res.end(bytes);
      } else if (name === 'cut.onnx') {
        // Headers promise more than is sent, then the connection drops.
        res.writeHead(200, { 'content-length': '4038157' });
        res.write(Buffer.alloc(1000));
        res.destroy();
      } else if (haveShared && existsSync(path.join(SHARED, name))) {
        res.end(readFileSync(path.join(SHARED, name)));
      } else {
        res.writeHead(404).end('no such file');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it.skipIf(!haveShared)('installs the pinned file after checking its hash; auto then picks it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'roomcount-fetch-'));
    expect(autoCandidates(dir)[0]!.name).toBe('centernet');
    const out = textSink();
    const err = textSink();
    const file = await fetchModel('rtmdet-nano', {
      dir,
      url: `${base}/rtmdet_nano_person.onnx`,
      out,
      err,
    });
    expect(file).toBe(path.join(dir, 'rtmdet_nano_person.onnx'));
    expect(sha256Hex(readFileSync(file))).toBe(modelDescriptor('rtmdet-nano').weights!.sha256);
    expect(readdirSync(dir)).toEqual(['rtmdet_nano_person.onnx']); // no temporary file left
    expect(out.text()).toContain(
      'sha256 4720eda18a18402e7b76d85827d4bc60fba18111fc0b74b559e4d24da9ddc3d2 verified',
    );
    expect(err.text()).toMatch(/4\.0 MB of 4\.0 MB \(100 %\)/); // progress
    expect(autoCandidates(dir)[0]!.name).toBe('rtmdet-nano');
    // Fetching again keeps the verified file and downloads nothing.
    const before = requests.length;
    await fetchModel('rtmdet-nano', {
      dir,
      url: `${base}/rtmdet_nano_person.onnx`,
      out: textSink(),
      err: textSink(),
    });
    expect(requests.length).toBe(before);
  });

  it.skipIf(!haveShared)('a file with another hash installs nothing and says so', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'roomcount-fetch-'));
    await expect(
      fetchModel('rtmdet-nano', { dir, url: `${base}/broken.onnx`, out: textSink(), err: textSink() }),
    ).rejects.toThrow(
      /is not the pinned file .*expected 4038157 bytes, sha256 4720eda1.*nothing was installed/,
    );
    expect(readdirSync(dir)).toEqual([]);
    // An installed good file stays when a later download is bad.
    writeFileSync(path.join(dir, 'rtmdet_nano_person.onnx'), 'old, damaged');
    await expect(
      fetchModel('rtmdet-nano', { dir, url: `${base}/broken.onnx`, out: textSink(), err: textSink() }),
    ).rejects.toThrow(/was left as it was/);
    expect(readFileSync(path.join(dir, 'rtmdet_nano_person.onnx'), 'utf8')).toBe('old, damaged');
  });

  it('network errors, HTTP errors and cut downloads are clear errors; nothing is installed', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'roomcount-fetch-'));
    await expect(
      fetchModel('yolox-nano', { dir, url: `${base}/missing.onnx`, out: textSink(), err: textSink() }),
    ).rejects.toThrow(/HTTP 404/);
    await expect(
      fetchModel('yolox-nano', { dir, url: `${base}/cut.onnx`, out: textSink(), err: textSink() }),
    ).rejects.toThrow(/failed/);
    // A port nobody listens on any more.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await expect(
      fetchModel('yolox-nano', {
        dir,
        url: `http://127.0.0.1:${port}/yolox_nano.onnx`,
        out: textSink(),
        err: textSink(),
      }),
    ).rejects.toThrow(new RegExp(`GET http://127.0.0.1:${port}/yolox_nano.onnx failed: .*ECONNREFUSED`));
    expect(readdirSync(dir)).toEqual([]);
  });

  it('bundled models have nothing to fetch; unknown models are named', async () => {
    await expect(fetchModel('centernet')).rejects.toThrow(/ships with roomcount/);
    await expect(fetchModel('yolo-huge')).rejects.toThrow(/unknown detector model "yolo-huge"/);
  });

  it('models list shows what is installed and what auto uses', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'roomcount-fetch-'));
    writeFileSync(path.join(dir, 'yolox_nano.onnx'), 'x');
    const out = textSink();
    listModels(out, dir);
    expect(out.text()).toMatch(/\* yolox-nano +installed/);
    expect(out.text()).toMatch(/ {2}rtmdet-nano +not installed \(roomcount models fetch rtmdet-nano\)/);
    expect(out.text()).toMatch(/ {2}centernet +bundled/);
  });
});

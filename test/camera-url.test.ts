import { describe, expect, it } from 'vitest';
import { grabFrame } from '../src/camera/snapshot.js';
import { cameraSource, checkCameraUrl, isNetworkUrl, localPath } from '../src/camera/url.js';
import { parseConfig, resolveConfigPaths } from '../src/config/load.js';

describe('cameraSource / checkCameraUrl', () => {
  it('rtsp and rtsps are network streams; a raw "@" in the password is fine', () => {
    expect(cameraSource('rtsp://u:p@10.0.0.5:554/stream1')).toEqual({
      kind: 'network',
      url: 'rtsp://u:p@10.0.0.5:554/stream1',
    });
    expect(cameraSource('RTSPS://cam/live').kind).toBe('network');
    expect(checkCameraUrl('rtsp://admin:p@ss@10.0.0.5/stream1')).toBeUndefined();
    expect(checkCameraUrl('rtsp://u:p%2Fw%20x@cam/live?channel=1')).toBeUndefined();
    expect(isNetworkUrl('rtsp://cam/x')).toBe(true);
    expect(isNetworkUrl('/m/x.mp4')).toBe(false);
  });

  it('refuses an RTSP URL whose user info is ambiguous ("/" or a space in it), never showing the secret', () => {
    for (const url of [
      'rtsp://u:se/cret@cam/live',
      'rtsp://u:se?cret@cam/live',
      'rtsp://u:se cret@cam/live',
    ]) {
      const problem = checkCameraUrl(url);
      expect(problem).toMatch(/percent-encode/);
      expect(problem).toMatch(/%2F/);
      expect(problem).not.toMatch(/cret/);
    }
    expect(checkCameraUrl('rtsp://u:secret@/live')).toMatch(/names no host/);
  });

  it('file:// URLs: this machine only, no encoded "/", valid escapes', () => {
    expect(cameraSource('file:///m/a%20b.jpg')).toEqual({ kind: 'file', path: '/m/a b.jpg' });
    expect(localPath('file://localhost/m/x.jpg')).toBe('/m/x.jpg');
    expect(checkCameraUrl('file://host/x.jpg')).toMatch(/names another machine.*file:\/\/\/path/);
    expect(checkCameraUrl('file:///a%2Fb.jpg')).toMatch(/encoded "\/" \(%2F\)/);
    expect(checkCameraUrl('file:///x%zz.jpg')).toMatch(/not a valid escape.*%25/);
  });

  it('a plain path is a file; http, udp, pipe and other schemes are refused', () => {
    expect(cameraSource('/m/room.jpg')).toEqual({ kind: 'file', path: '/m/room.jpg' });
    expect(cameraSource('room.mp4')).toEqual({ kind: 'file', path: 'room.mp4' });
    for (const url of ['http://u:secret@cam/snap.jpg', 'udp://239.0.0.1:1234', 'pipe:0', 'rtmp://x/y']) {
      const problem = checkCameraUrl(url);
      expect(problem).toMatch(/camera URLs are not supported.*use rtsp:\/\/, rtsps:\/\/, a file:\/\/ URL/);
      expect(problem).not.toContain('secret');
    }
    expect(() => localPath('rtsp://cam/x')).toThrow(/not a local file/);
  });

  it('a URL of another scheme is not made into a path (its password would show in "no such file")', () => {
    const yaml = (url: string) =>
      `sink: stdout\nrooms:\n  - { id: r, locationId: L, locationType: space, camera: { url: "${url}" } }\n`;
    const urlIn = (url: string) =>
      resolveConfigPaths(parseConfig(yaml(url), 'x.yaml'), '/etc/roomcount').rooms[0]!.camera.url;
    expect(urlIn('http://u:secret@cam/snap.jpg')).toBe('http://u:secret@cam/snap.jpg');
    expect(urlIn('cams/room.jpg')).toBe('/etc/roomcount/cams/room.jpg');
    expect(urlIn('file:///m/x.jpg')).toBe('file:///m/x.jpg');
  });

  it('snapshot: an unusable camera.url is a GrabError "invalid", before any ffmpeg', async () => {
    await expect(grabFrame({ url: 'file://nas/x.jpg', transport: 'tcp' })).rejects.toMatchObject({
      name: 'GrabError',
      state: 'invalid',
      message: expect.stringMatching(/^cannot get a picture from file:\/\/nas\/x\.jpg: .*another machine/),
    });
  });
});

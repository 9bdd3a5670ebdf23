import { describe, expect, it } from 'vitest';
import { redactText, redactUrl } from '../src/redact.js';

describe('redactUrl / redactText', () => {
  it('hides user and password of any URL', () => {
    expect(redactUrl('rtsp://admin:hunter22@10.0.0.5:554/stream1')).toBe(
      'rtsp://***:***@10.0.0.5:554/stream1',
    );
    expect(redactUrl('rtsps://user@cam/x')).toBe('rtsps://***:***@cam/x');
    expect(redactUrl('rtsp://cam.local/live')).toBe('rtsp://cam.local/live');
  });

  it('hides a password that contains a raw "@"', () => {
    const out = redactUrl('rtsp://admin:p@ss@word@10.0.0.5/stream1');
    expect(out).toBe('rtsp://***:***@10.0.0.5/stream1');
    expect(out).not.toContain('ss@word');
  });

  it('redacts URLs inside free text and listed secrets', () => {
    const text = "Error opening 'rtsp://u:topsecret@cam/1' (key sk_live_123456)";
    expect(redactText(text, ['sk_live_123456'])).toBe("Error opening 'rtsp://***:***@cam/1' (key ***)");
  });
});

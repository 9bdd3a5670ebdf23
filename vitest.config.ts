import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Stops the run with the one apt-get line when ffmpeg, the GStreamer RTSP server or Chromium is missing.
    globalSetup: ['test/prerequisites.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests spawn ffmpeg and run a detector; keep them from fighting over two cores.
    fileParallelism: false,
  },
});

import { isAbsolute, resolve } from 'node:path';
import type { Config } from './schema.js';
import { hasUrlScheme } from '../camera/url.js';

/** Relative paths in a config file (camera files, stateDir, modelPath) are relative to that file's folder. */
export function resolveConfigPaths(config: Config, configDir: string): Config {
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(configDir, p));
  return {
    ...config,
    stateDir: abs(config.stateDir),
    detector: {
      ...config.detector,
      ...(config.detector.modelPath && { modelPath: abs(config.detector.modelPath) }),
    },
    rooms: config.rooms.map((room) => {
      const url = room.camera.url;
      const local = !hasUrlScheme(url);
      return local ? { ...room, camera: { ...room.camera, url: abs(url) } } : room;
    }),
  };
}

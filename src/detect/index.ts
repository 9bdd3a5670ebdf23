import type { DetectorConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { redactUrl } from '../redact.js';
import { createCenterNetDetector } from './centernet.js';
import type { Detector } from './detector.js';

export type { Detection, Detector } from './detector.js';

/** Builds the configured person detector (loads the model and the tfjs backend). */
export async function createDetector(cfg: DetectorConfig, log?: Logger): Promise<Detector> {
  switch (cfg.model) {
    case 'centernet':
      if (cfg.modelUrl) {
        log?.warn(
          { modelUrl: redactUrl(cfg.modelUrl) },
          'detector.modelUrl is not used by the centernet model; set detector.modelPath to a local model.json instead',
        );
      }
      return createCenterNetDetector({ minScore: cfg.minScore, modelJsonPath: cfg.modelPath, log });
    case 'coco-ssd':
    case 'yolox-nano':
      throw new Error(
        `detector model "${cfg.model}" is not available in this version of roomcount yet; use "centernet"`,
      );
    default: {
      const unknown: never = cfg.model;
      throw new Error(`unknown detector model "${String(unknown)}"`);
    }
  }
}

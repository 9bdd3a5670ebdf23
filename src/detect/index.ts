import type { DetectorConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { redactUrl } from '../redact.js';
import type { Detector } from './detector.js';

export type { Detection, Detector } from './detector.js';

/**
 * Builds the configured person detector (loads the model and, for tfjs models, the tfjs backend). Each model's
 * module is imported only when chosen: tfjs and onnxruntime each cost tens of MiB of memory.
 */
export async function createDetector(cfg: DetectorConfig, log?: Logger): Promise<Detector> {
  switch (cfg.model) {
    case 'centernet': {
      warnUnusedUrl(cfg, log);
      const { createCenterNetDetector } = await import('./centernet.js');
      return createCenterNetDetector({ minScore: cfg.minScore, modelJsonPath: cfg.modelPath, log });
    }
    case 'coco-ssd': {
      const { createCocoSsdDetector } = await import('./coco-ssd.js');
      return createCocoSsdDetector({
        minScore: cfg.minScore,
        base: cfg.base,
        modelPath: cfg.modelPath,
        modelUrl: cfg.modelUrl,
        log,
      });
    }
    case 'yolox-nano': {
      warnUnusedUrl(cfg, log);
      if (!cfg.modelPath) {
        throw new Error(
          'detector.model yolox-nano needs detector.modelPath: the path of your copy of yolox_nano.onnx ' +
            '(roomcount does not ship it; see README "Models and accuracy")',
        );
      }
      const { createYoloxDetector } = await import('./yolox.js');
      return createYoloxDetector({
        minScore: cfg.minScore,
        modelPath: cfg.modelPath,
        sha256: cfg.sha256,
        log,
      });
    }
    default: {
      const unknown: never = cfg.model;
      throw new Error(`unknown detector model "${String(unknown)}"`);
    }
  }
}

function warnUnusedUrl(cfg: DetectorConfig, log: Logger | undefined): void {
  if (cfg.modelUrl) {
    log?.warn(
      { modelUrl: redactUrl(cfg.modelUrl) },
      `detector.modelUrl is not used by the ${cfg.model} model; set detector.modelPath to a local file instead`,
    );
  }
}

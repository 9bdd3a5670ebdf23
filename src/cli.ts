#!/usr/bin/env node
import { dirname } from 'node:path';
import { Command, Option } from 'commander';
import { loadConfig, ConfigError, maskConfig } from './config/load.js';
import { resolveConfigPaths } from './config/paths.js';
import type { Config } from './config/schema.js';
import { createLogger } from './log.js';
import { startService } from './service.js';
import { countImages } from './commands/count.js';

const EXIT_BAD_CONFIG = 2;

function readConfig(file: string): Config {
  return resolveConfigPaths(loadConfig(file), dirname(file));
}

/** Config problems end the command with exit code 2 and one line per problem. */
function withConfigErrors<A extends unknown[]>(
  fn: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`${err.message}\n${err.problems.length} problem(s) in the configuration\n`);
        process.exitCode = EXIT_BAD_CONFIG;
        return;
      }
      throw err;
    }
  };
}

const program = new Command()
  .name('roomcount')
  .description('Counts people in meeting rooms from cameras and reports occupancy to Calven.')
  .showHelpAfterError();

program
  .command('run')
  .description('run every room until SIGTERM/SIGINT')
  .requiredOption('-c, --config <file>', 'YAML configuration file')
  .action(
    withConfigErrors(async (opts: { config: string }) => {
      const config = readConfig(opts.config);
      const log = createLogger();
      const service = await startService(config, { log });
      await new Promise<void>((resolve) => {
        const onSignal = (signal: string) => {
          log.info({ signal }, 'stopping');
          process.off('SIGTERM', onSignal).off('SIGINT', onSignal);
          void service.stop().then(resolve);
        };
        process.on('SIGTERM', onSignal).on('SIGINT', onSignal);
      });
    }),
  );

program
  .command('check-config')
  .description('validate a configuration file and print what it sets up (secrets masked)')
  .requiredOption('-c, --config <file>', 'YAML configuration file')
  .action(
    withConfigErrors(async (opts: { config: string }) => {
      const config = readConfig(opts.config);
      const lines = [
        `${opts.config}: OK`,
        `sink: ${config.sink}${config.sink === 'calven' ? ` (${config.calven?.baseUrl}, auth ${config.calven?.auth?.type})` : ''}`,
        `detector: ${config.detector.model} (minScore ${config.detector.minScore})`,
        `rooms: ${config.rooms.length}`,
      ];
      const masked = maskConfig(config) as Config;
      for (const room of masked.rooms) {
        lines.push(
          `  ${room.id}  ${room.locationType} ${room.locationId}  ${room.camera.url}  ${room.sampleFps} fps, window ${room.windowSeconds} s`,
        );
      }
      process.stdout.write(lines.join('\n') + '\n');
    }),
  );

program
  .command('count')
  .description('count people in image files with the configured detector')
  .argument('<images...>', 'image files (jpg, png, webp)')
  .option('-c, --config <file>', 'YAML configuration file (detector and, with --room, region)')
  .option('--room <id>', "apply this room's region and minScore")
  .addOption(new Option('--json', 'one JSON object per line'))
  .action(
    withConfigErrors(async (images: string[], opts: { config?: string; room?: string; json?: boolean }) => {
      const config = opts.config ? readConfig(opts.config) : undefined;
      await countImages(images, { config, roomId: opts.room, json: opts.json ?? false });
    }),
  );

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`roomcount: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});

import { expect } from 'vitest';
import { ConfigError, parseConfig, type ConfigProblem } from '../../src/config/load.js';

/** Problems of an invalid config, without the file name (the config is parsed as `rooms.yaml`). */
export function configProblems(text: string, env: NodeJS.ProcessEnv = {}): Omit<ConfigProblem, 'file'>[] {
  try {
    parseConfig(text, 'rooms.yaml', env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems.map(({ file: _file, ...p }) => p);
  }
  throw new Error('expected a ConfigError');
}

/**
 * "Billion laughs": nine lines a0..a8 (lines 1-9 of the result), each a list of ten aliases to the line before;
 * a5 already expands to 1,111,111 values (every list counts too), a8 to over a billion.
 */
export function billionLaughs(): string {
  const ten = (item: string) => `[${Array(10).fill(item).join(', ')}]`;
  return Array.from({ length: 9 }, (_, i) => `a${i}: &a${i} ${ten(i === 0 ? 'lol' : `*a${i - 1}`)}`).join(
    '\n',
  );
}

import { z } from 'zod';
import { redactUrl } from '../redact.js';

/** A key path in the YAML, e.g. ['rooms', 1, 'camera', 'url']. */
export type Seg = string | number;

export interface ConfigProblem {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  col: number;
  /** Where in the YAML the position points, e.g. `rooms[1].camera.url`, `defaults.sampleFps`; '' for the file. */
  path: string;
  message: string;
}

export const formatProblem = (p: ConfigProblem): string =>
  `${p.file}:${p.line}:${p.col}: ${p.path ? `${p.path}: ` : ''}${p.message}`;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
  }
}

/** The parser's message, with a hint for the usual cause: an unquoted `${NAME}` inside `{ }` or `[ ]`. */
export function syntaxMessage(message: string, text: string, offset: number): string {
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  const lineEnd = text.indexOf('\n', offset);
  const line = text.slice(lineStart, lineEnd < 0 ? undefined : lineEnd);
  return /flow/i.test(message) && /(^|[^"'])\$\{/.test(line)
    ? `${message} (inside { } or [ ], put quotes around \${NAME}: "\${NAME}")`
    : message;
}

export function formatPath(path: readonly Seg[]): string {
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

export function sortUnique(problems: ConfigProblem[]): ConfigProblem[] {
  const unique = new Map(problems.map((p) => [formatProblem(p), p]));
  return [...unique.values()].sort((a, b) => a.line - b.line || a.col - b.col);
}

export const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** A failed union reports the issues of its closest branch (the one with the fewest issues). */
export function unwrapUnion(issue: z.core.$ZodIssue): z.core.$ZodIssue[] {
  if (issue.code !== 'invalid_union' || !issue.errors.length) return [issue];
  const best = issue.errors.reduce((a, b) => (b.length < a.length ? b : a));
  return best.flatMap((i) => unwrapUnion({ ...i, path: [...issue.path, ...i.path] }));
}

export function unknownKey(key: string, known: readonly string[]): string {
  const best = known
    .map((k) => ({ k, d: editDistance(key.toLowerCase(), k.toLowerCase()) }))
    .sort((a, b) => a.d - b.d)[0];
  return `unknown key "${key}"${best && best.d <= 2 && best.d < key.length ? ` (did you mean "${best.k}"?)` : ''}`;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

const BOUNDS = { too_small: ['greater than', 'at least'], too_big: ['less than', 'at most'] } as const;
const TYPE_NAMES: Record<string, string> = { object: 'mapping', array: 'list', int: 'integer' };

/** A value for a message; `hidden` (it came from the environment, and may be a secret) names only its kind. */
export function describe(value: unknown, hidden = false): string {
  if (hidden) {
    if (value === undefined) return 'nothing';
    const kind = value === null ? 'an empty value' : Array.isArray(value) ? 'a list' : `a ${typeof value}`;
    return `${kind} from the environment (value not shown)`;
  }
  if (value === null) return 'an empty value';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') {
    const shown = redactUrl(value);
    return `string ${JSON.stringify(shown.length > 40 ? `${shown.slice(0, 40)}…` : shown)}`;
  }
  return `${typeof value} ${String(value)}`;
}

/** zod error map: short, YAML-flavoured messages. Messages set in the schema still win. */
export const humanize: z.core.$ZodErrorMap = (issue) => humanizeIssue(issue, false);

/** The message for an issue; `hidden`: the value came from the environment and is not shown. */
export function humanizeIssue(issue: z.core.$ZodRawIssue, hidden: boolean): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${TYPE_NAMES[issue.expected] ?? issue.expected}, got ${describe(issue.input, hidden)}`;
    case 'invalid_value':
      return issue.values.length === 1
        ? `expected ${JSON.stringify(issue.values[0])}, got ${describe(issue.input, hidden)}`
        : `expected one of ${issue.values.join(', ')}; got ${describe(issue.input, hidden)}`;
    case 'too_small':
    case 'too_big': {
      const small = issue.code === 'too_small';
      const limit = String(small ? issue.minimum : issue.maximum);
      if (issue.origin === 'array') return `needs ${small ? 'at least' : 'at most'} ${limit} item(s)`;
      if (issue.origin === 'string' && small && limit === '1') return 'must not be empty';
      const bound = BOUNDS[issue.code][issue.inclusive ? 1 : 0];
      return `must be ${bound} ${limit}${issue.origin === 'string' ? ' characters long' : ''}`;
    }
    case 'invalid_union': {
      const { discriminator: key, input } = issue;
      const options = (issue as { options?: unknown[] }).options?.join(', ');
      if (!key || !options || !isObj(input)) return undefined;
      return key in input
        ? `expected one of ${options}; got ${describe(input[key], hidden)}`
        : `missing required key "${key}" (one of ${options})`;
    }
    case 'invalid_format':
      return issue.format === 'url' ? `expected a URL, got ${describe(issue.input, hidden)}` : undefined;
    default:
      return undefined;
  }
}

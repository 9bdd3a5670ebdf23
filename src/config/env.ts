import { isPair, isScalar, isSeq, parseDocument, Scalar, visit } from 'yaml';
import type { Document } from 'yaml';
import type { Seg } from './problems.js';
import { configSchema, defOf, schemasAt } from './schema.js';

const ENV_REF = /\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * Replaces `${NAME}` in every string value (not keys) in place; `$${NAME}` stays a literal `${NAME}`. The result
 * is typed as the schema wants it there (see retypeFor), so `port: ${PORT}` gives a number and
 * `apiSecret: ${SECRET}` a string. Returns the nodes that referenced an unset variable, and those that took a
 * value from one.
 */
export function substituteEnv(
  doc: Document,
  env: NodeJS.ProcessEnv,
  onMissing: (node: Scalar, path: Seg[], name: string) => void,
): { failed: Set<unknown>; substituted: Set<unknown> } {
  const failed = new Set<unknown>();
  const substituted = new Set<unknown>();
  visit(doc, {
    Scalar(key, node, ancestors) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('${')) return;
      const out = node.value.replace(ENV_REF, (ref, escaped: string, name: string) => {
        if (escaped) return ref.slice(1);
        const value = env[name];
        if (value !== undefined) {
          substituted.add(node);
          return value;
        }
        failed.add(node);
        onMissing(node, pathOf(ancestors, node), name);
        return ref;
      });
      node.value = retypeFor(pathOf(ancestors, node), out, node.type === Scalar.PLAIN);
    },
  });
  return { failed, substituted };
}

/**
 * The value a substituted scalar gets. Where the schema wants text (IDs, secrets, URLs) it stays text, even if
 * it looks like a number (a numeric secret must not become 12345, nor "0123" become 123); where it wants a
 * number or true/false, the text is read as YAML, quoted or not (`"${FPS}"` too, which flow mappings need).
 * At a key the schema does not know, an unquoted value is read as YAML and a quoted one stays text.
 */
function retypeFor(path: readonly Seg[], text: string, plain: boolean): unknown {
  const schemaPath = path[0] === 'defaults' ? ['rooms', 0, ...path.slice(1)] : path;
  const types = new Set(schemasAt(configSchema, schemaPath).map((t) => defOf(t).type));
  if (types.has('string') || types.has('enum') || types.has('literal')) return text;
  if (types.has('number') || types.has('boolean')) return retype(text);
  return plain ? retype(text) : text;
}

function retype(text: string): unknown {
  const doc = parseDocument(text);
  const value: unknown = doc.errors.length ? text : doc.toJS();
  return typeof value === 'number' || typeof value === 'boolean' ? value : text;
}

/** The path of a node from `visit`'s ancestor list. */
function pathOf(ancestors: readonly unknown[], node: unknown): Seg[] {
  const path: Seg[] = [];
  [...ancestors, node].forEach((cur, i, all) => {
    if (isPair(cur)) path.push(scalarKey(cur.key));
    else if (isSeq(cur)) path.push(cur.items.indexOf(all[i + 1] as never));
  });
  return path;
}

export const scalarKey = (key: unknown): string => String(isScalar(key) ? key.value : key);

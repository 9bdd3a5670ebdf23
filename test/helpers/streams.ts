import { Writable } from 'node:stream';

/** A writable that collects what is written to it as text. */
export function textSink(): Writable & { text: () => string } {
  let text = '';
  const w = new Writable({
    write(chunk, _enc, cb) {
      text += String(chunk);
      cb();
    },
  });
  return Object.assign(w, { text: () => text });
}

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metrics } from './metrics.js';

export interface Readiness {
  ready: boolean;
  /** What is not ready, e.g. "detector loading", "outbox not writable". */
  problems: string[];
}

export interface HttpDeps {
  metrics: Metrics;
  /** JSON-safe status; must not hold pixels or credentials. */
  status: () => unknown;
  readiness: () => Readiness;
}

export interface HttpServer {
  readonly port: number;
  close(): Promise<void>;
}

/** /healthz (alive), /readyz, /metrics (Prometheus), /status (JSON per room). GET only; nothing else is served. */
export async function startHttpServer(port: number, host: string, deps: HttpDeps): Promise<HttpServer> {
  const server: Server = createServer((req, res) => {
    const send = (code: number, type: string, body: string) => {
      res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    const json = (code: number, value: unknown) =>
      send(code, 'application/json', JSON.stringify(value) + '\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(405, { error: 'method not allowed' });
    const path = (req.url ?? '/').split('?')[0];
    switch (path) {
      case '/healthz':
        return json(200, { status: 'ok' });
      case '/readyz': {
        const r = deps.readiness();
        return json(r.ready ? 200 : 503, { status: r.ready ? 'ready' : 'not ready', problems: r.problems });
      }
      case '/status':
        return json(200, deps.status());
      case '/metrics':
        deps.metrics.registry
          .metrics()
          .then((text) => send(200, deps.metrics.registry.contentType, text))
          .catch((err: Error) => json(500, { error: err.message }));
        return;
      default:
        return json(404, { error: 'not found', endpoints: ['/healthz', '/readyz', '/metrics', '/status'] });
    }
  });
  return listen(server, port, host);
}

/** Listens (rejecting on e.g. EADDRINUSE) and returns the port and a close() that also ends open connections. */
export async function listen(server: Server, port: number, host: string): Promise<HttpServer> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

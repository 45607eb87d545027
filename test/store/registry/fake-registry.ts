/**
 * A registry in this process for the client's tests: routes answer as a test wants
 * (bad digests, endless manifests, redirect loops, token auth), and every request is
 * recorded with its Authorization header.
 */
import http from 'node:http';

export type Route = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export interface FakeRegistry {
  host: string;
  port: number;
  requests: { path: string; authorization: string | undefined }[];
  routes: Map<string, Route>;
  close(): Promise<void>;
}

export async function startFakeRegistry(): Promise<FakeRegistry> {
  const routes = new Map<string, Route>();
  const requests: FakeRegistry['requests'] = [];
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    requests.push({ path: req.url ?? '', authorization: req.headers.authorization });
    const route = routes.get(path) ?? (path === '/v2/' ? (_q, r) => r.end('{}') : undefined);
    if (route) return route(req, res);
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    host: `127.0.0.1:${port}`,
    port,
    requests,
    routes,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function serve(body: Buffer, headers: Record<string, string> = {}): Route {
  return (_req, res) => {
    res.writeHead(200, { 'content-length': String(body.length), ...headers });
    res.end(body);
  };
}

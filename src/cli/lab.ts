// `nablax lab`: serve the ∇x lab (the static site `npm run build:lab` writes to lab/dist/) on localhost with sirv,
// with the cross-origin-isolation headers (COOP same-origin, COEP require-corp) that shared WebAssembly memory
// needs in a browser, and print its URL. Model files given with --model-file are checked here, before serving, and
// offered in the page's model menu after the shipped ones (models.json is answered with the longer list).
import type { Command } from 'commander';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { basename, join } from 'node:path';
import sirv from 'sirv';
import { packageRoot } from '../engine/package-root.js';
import { loadModel } from '../io/model-file.js';
import { int, UsageError } from './util.js';

/** The package root (holding package.json). */
function labRoot(): string {
  const root = packageRoot();
  if (root === null) throw new Error('lab: cannot find the nablax package root');
  return root;
}

/** Headers on every response: cross-origin isolation (SharedArrayBuffer, shared WebAssembly.Memory) and no caching surprises. */
function isolate(res: ServerResponse): void {
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
}

/** A model file the user named: checked as the lab will need it (a nablax model taking 28×28 digits). */
function checkModelFile(path: string): { name: string; bytes: Uint8Array } {
  if (!existsSync(path)) throw new UsageError(`--model-file ${path}: no such file`);
  if (statSync(path).isDirectory()) throw new UsageError(`--model-file ${path}: is a directory, expected a .safetensors file`);
  let input: number[];
  try {
    input = loadModel(path).model.input;
  } catch (e) {
    throw new UsageError(`--model-file ${(e as Error).message.replace(/^loadModel: /, '')}`);
  }
  if (input.reduce((a, b) => a * b, 1) !== 784) {
    throw new UsageError(`--model-file ${path}: the model takes input [${input.join(', ')}]; the lab feeds 28×28 digits (784 values)`);
  }
  return { name: basename(path).replace(/\.safetensors$/, ''), bytes: readFileSync(path) };
}

export function registerLab(program: Command): void {
  program
    .command('lab')
    .description('serve the ∇x lab (draw a digit, watch ∇x, the attacks and the backward pass in the browser) and print its URL')
    .option('--port <n>', 'port on localhost (0: any free port)', int('--port', 0), 8080)
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--model-file <path...>', 'model files (.safetensors) to offer in the page\'s model menu')
    .addHelpText('after', '\nBuild the page first with `npm run build:lab` (lab/dist/). The page runs nablax itself in the tab; nothing leaves it.')
    .action(async (o: { port: number; host: string; modelFile?: string[] }) => {
      if (o.port > 65535) throw new UsageError(`--port must be at most 65535, got ${o.port}`);
      const dist = join(labRoot(), 'lab', 'dist');
      if (!existsSync(join(dist, 'index.html'))) throw new Error(`${dist} is not built: run \`npm run build:lab\` first`);
      const extra = (o.modelFile ?? []).map(checkModelFile);
      const shipped = JSON.parse(readFileSync(join(dist, 'models.json'), 'utf8')) as { name: string; url: string }[];
      const taken = new Set(shipped.map((m) => m.name));
      const user = extra.map((m, i) => {
        let name = m.name;
        for (let k = 2; taken.has(name); k++) name = `${m.name}-${k}`;
        taken.add(name);
        return { name, url: `user-models/${i}.safetensors`, bytes: m.bytes };
      });
      const models = JSON.stringify([...shipped, ...user.map(({ name, url }) => ({ name, url }))]);
      const files = sirv(dist, { etag: true, dev: false, setHeaders: (res) => isolate(res) });
      const server = createServer((req: IncomingMessage, res: ServerResponse) => {
        isolate(res);
        const path = (req.url ?? '/').split('?')[0];
        const send = (type: string, body: string | Uint8Array) => {
          res.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'no-cache' });
          res.end(body);
        };
        if (path === '/models.json') return send('application/json', models);
        const m = /^\/user-models\/(\d+)\.safetensors$/.exec(path);
        if (m && user[Number(m[1])]) return send('application/octet-stream', user[Number(m[1])].bytes);
        files(req, res, () => {
          res.writeHead(404, { 'Content-Type': 'text/plain' });
          res.end('not found\n');
        });
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', (e: NodeJS.ErrnoException) =>
          reject(e.code === 'EADDRINUSE' ? new UsageError(`--port ${o.port}: already in use (try another, or --port 0)`) : e));
        server.listen(o.port, o.host, () => resolve());
      });
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : o.port;
      const host = o.host === '127.0.0.1' || o.host === '0.0.0.0' ? 'localhost' : o.host;
      process.stderr.write(`nablax lab: serving ${dist}${user.length ? ` with ${user.map((u) => u.name).join(', ')}` : ''}; Ctrl-C stops\n`);
      process.stdout.write(`http://${host}:${port}/\n`);
      await new Promise<void>((resolve) => {
        const stop = () => server.close(() => resolve());
        process.once('SIGTERM', stop); // Ctrl-C: main.ts's handler (exit 130, nothing written)
      });
    });
}

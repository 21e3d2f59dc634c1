// A node:http server for test/http.test.ts, run in its own worker: the handler under test blocks
// the test's thread while a request runs, so a server on that thread could never answer.
// Listens on 127.0.0.1 only. Talk to it with `TestServer` below.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { after, before, beforeEach } from 'node:test';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';

/** What the server saw of one request. */
export interface SeenRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** How a streamed response ended: how much was written, and whether the client hung up first. */
export interface StreamEnd {
  path: string;
  written: number;
  clientClosedEarly: boolean;
}

type Ask = { type: 'requests' } | { type: 'reset' } | { type: 'closed'; path: string } | { type: 'stop' };
type Command = Ask & { id: number };

// ------------------------------------------------------------------ inside the worker

function runServer(): void {
  const port = parentPort!;
  const requests: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  const ended = new Map<string, StreamEnd>();
  const waiting = new Map<string, ((end: StreamEnd) => void)[]>();

  const recordEnd = (end: StreamEnd) => {
    ended.set(end.path, end);
    for (const resolve of waiting.get(end.path) ?? []) resolve(end);
    waiting.delete(end.path);
  };

  /** Writes `total` bytes (or until the client goes away) in 16 KiB chunks, honouring backpressure. */
  const stream = (path: string, res: ServerResponse, total: number) => {
    const chunk = Buffer.alloc(16 * 1024, 0x61);
    let written = 0;
    let done = false;
    res.on('close', () => {
      if (done) return;
      done = true;
      recordEnd({ path, written, clientClosedEarly: !res.writableFinished });
    });
    const pump = () => {
      while (written < total && !res.destroyed) {
        written += chunk.byteLength;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      if (!res.destroyed) res.end();
    };
    pump();
  };

  const routes = (req: IncomingMessage, res: ServerResponse, url: URL, body: string) => {
    const path = url.pathname + url.search;
    const q = url.searchParams;
    switch (url.pathname) {
      case '/hello':
        res.setHeader('X-Test', 'yes');
        res.setHeader('Content-Type', 'text/plain');
        return void res.end('hello');
      case '/odd-headers':
        // names a plain object would lose or mistake for its own methods
        res.setHeader('__proto__', 'kept');
        res.setHeader('constructor', 'too');
        return void res.end('odd');
      case '/echo':
        res.setHeader('Content-Type', 'application/json');
        return void res.end(JSON.stringify({ method: req.method, headers: req.headers, body }));
      case '/status':
        res.statusCode = Number(q.get('code'));
        return void res.end(res.statusCode === 204 || res.statusCode === 304 ? undefined : `status ${res.statusCode}`);
      case '/redirect':
        res.statusCode = Number(q.get('status') ?? 302);
        res.setHeader('Location', q.get('to')!);
        return void res.end('redirecting');
      case '/loop':
        res.statusCode = 302;
        res.setHeader('Location', `/loop?n=${Number(q.get('n') ?? 0) + 1}`);
        return void res.end();
      case '/stream':
        return stream(path, res, Number(q.get('bytes')));
      case '/declared':
        res.setHeader('Content-Length', q.get('bytes')!);
        return stream(path, res, Number(q.get('bytes')));
      case '/hang':
        res.on('close', () => recordEnd({ path, written: 0, clientClosedEarly: true }));
        return; // never answers
      case '/trickle': {
        // a byte every few milliseconds, for ever: no read ever waits long, no deadline on reads ends it
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        let written = 0;
        const timer = setInterval(() => {
          written++;
          res.write('.');
        }, 10);
        res.on('close', () => {
          clearInterval(timer);
          recordEnd({ path, written, clientClosedEarly: true });
        });
        return;
      }
      case '/hang-body':
        res.on('close', () => recordEnd({ path, written: 5, clientClosedEarly: true }));
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        return void res.write('start'); // headers and a first chunk, then nothing
      default:
        res.statusCode = 404;
        return void res.end('no route');
    }
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ method: req.method ?? '', path: url.pathname + url.search, headers: req.headers, body });
      routes(req, res, url, body);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  port.on('message', (command: Command) => {
    switch (command.type) {
      case 'requests':
        return port.postMessage({ id: command.id, value: requests });
      case 'reset':
        requests.length = 0;
        ended.clear();
        return port.postMessage({ id: command.id, value: null });
      case 'closed': {
        const end = ended.get(command.path);
        if (end !== undefined) return port.postMessage({ id: command.id, value: end });
        const list = waiting.get(command.path) ?? [];
        list.push((value) => port.postMessage({ id: command.id, value }));
        waiting.set(command.path, list);
        return;
      }
      case 'stop':
        for (const socket of sockets) socket.destroy();
        return server.close(() => {
          port.postMessage({ id: command.id, value: null });
          port.close();
        });
    }
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    port.postMessage({ listening: typeof address === 'object' && address !== null ? address.port : 0 });
  });
}

if (!isMainThread && parentPort !== null) runServer();

// ------------------------------------------------------------------ the test's side

/** The test server, running in its worker. */
export class TestServer {
  private nextId = 0;
  private readonly pending = new Map<number, (value: unknown) => void>();

  private constructor(
    private readonly worker: Worker,
    readonly port: number,
  ) {
    worker.on('message', (message: { id?: number; value?: unknown }) => {
      if (message.id === undefined) return;
      this.pending.get(message.id)?.(message.value);
      this.pending.delete(message.id);
    });
  }

  static async start(): Promise<TestServer> {
    const worker = new Worker(new URL(import.meta.url));
    const port = await new Promise<number>((resolve, reject) => {
      worker.once('message', (message: { listening: number }) => resolve(message.listening));
      worker.once('error', reject);
    });
    return new TestServer(worker, port);
  }

  /** `http://127.0.0.1:PORT` + path. */
  url(path: string, host = '127.0.0.1'): string {
    return `http://${host}:${this.port}${path}`;
  }

  private ask<T>(command: Ask): Promise<T> {
    const id = ++this.nextId;
    return new Promise<T>((resolve) => {
      this.pending.set(id, resolve as (value: unknown) => void);
      this.worker.postMessage({ ...command, id });
    });
  }

  /** Every request seen since the last reset, in order. */
  requests(): Promise<SeenRequest[]> {
    return this.ask({ type: 'requests' });
  }

  reset(): Promise<void> {
    return this.ask({ type: 'reset' });
  }

  /** Resolves once the response to `path` has closed (at once if it already has). */
  closed(path: string): Promise<StreamEnd> {
    return this.ask({ type: 'closed', path });
  }

  /** Close every connection and the server, then end the worker. */
  async stop(): Promise<void> {
    await this.ask({ type: 'stop' });
    await this.worker.terminate();
  }
}

/**
 * A TestServer for one test file: started before its tests (handed to `use`), reset before each
 * test, stopped after them all.
 */
export function useTestServer(use: (server: TestServer) => void): void {
  let server: TestServer | undefined;
  before(async () => {
    server = await TestServer.start();
    use(server);
  });
  after(async () => {
    await server?.stop();
  });
  beforeEach(async () => {
    await server?.reset();
  });
}

/**
 * The fuzzer's world: the API Worker in workerd (listening on 127.0.0.1) with the edge model in
 * MODELS, one real `nnsam serve` node whose RSS is watched, the Worker's log lines, and a restart
 * of either when a probe leaves it stuck (so one hang does not turn every later probe into one).
 */
import { readFileSync } from 'node:fs';
import { checksumHeader, sha256Hex } from './api-checks.js';
import { startApi, type ApiWorld } from './api-world.js';
import { currentEdgeFile } from './edge-file.js';
import type { FuzzContext } from './fuzz-probe.js';
import { startNode, type InferenceNode } from './inference-nodes.js';
import { PRICES, SLICE } from './job-fixtures.js';

const EDGE = currentEdgeFile('brain-wm-2d');

/** VmRSS of `pid` in bytes (0 once it is gone). */
export function rssOf(pid: number | undefined): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** A Worker log event that is not ours to have: an unhandled error, an uncaught exception. */
export interface BadLog {
  requestId: string | undefined;
  line: string;
}

/** The running API and node, restartable. */
export class FuzzWorld {
  api!: ApiWorld;
  node!: InferenceNode;
  base!: string;
  port!: number;
  ctx!: FuzzContext;
  restarts = { node: 0, api: 0 };
  /** Highest node RSS seen, over every node process. */
  maxRss = 0;
  /** Set by the watchdog when the node passed the bound (it is then killed). */
  rssBreach: { rss: number; at: number } | null = null;
  readonly badLogs: BadLog[] = [];
  /** workerd's own complaints about requests it could not parse (they never reached the Worker). */
  readonly runtimeLogs: string[] = [];
  private nodePort = 0;
  private watchdog: NodeJS.Timeout | undefined;
  private partial = '';

  constructor(readonly rssBound: number) {}

  /** Starts both and makes the context (keys, uploads, a finished job). */
  async start(): Promise<void> {
    await this.startNode();
    await this.startApi();
    await this.makeContext(true);
    await this.warmEdge();
  }

  /**
   * One edge run of the slice, so that no probe pays for loading the model into the isolate; a world
   * whose edge does not run (its file missing from MODELS) would fuzz the node path twice, so it fails.
   */
  private async warmEdge(): Promise<void> {
    const res = await this.api.fetch('/v1/segment?model=brain-wm-2d', {
      method: 'POST',
      headers: { authorization: `Bearer ${this.ctx.key}`, accept: 'image/png' },
      body: SLICE as unknown as BodyInit,
    });
    if (res.status !== 200) throw new Error(`fuzz setup: segment ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
    const placement = res.headers.get('x-placement');
    if (placement !== 'edge')
      throw new Error(`fuzz setup: the slice ran on the ${placement}, not at the edge`);
  }

  private async startNode(): Promise<void> {
    // The same work bound as the Worker's MAX_EVALUATIONS below.
    const bound = ['--max-evaluations', '1000'];
    this.node = await startNode(this.nodePort ? ['--port', String(this.nodePort), ...bound] : bound);
    this.nodePort = Number(new URL(this.node.url).port);
    this.rssBreach = null;
    clearInterval(this.watchdog);
    const node = this.node;
    this.watchdog = setInterval(() => {
      const rss = rssOf(node.child.pid);
      this.maxRss = Math.max(this.maxRss, rss);
      if (rss > this.rssBound && !this.rssBreach) {
        // Killed at once: past the bound the machine itself is at risk.
        this.rssBreach = { rss, at: Date.now() };
        node.child.kill('SIGKILL');
      }
    }, 100);
  }

  private async startApi(): Promise<void> {
    this.api = await startApi('fuzz', {
      vars: {
        INFERENCE_NODES: `http://127.0.0.1:${this.nodePort}`,
        DEFAULT_PRICES: JSON.stringify(PRICES),
        // Tenant concurrency is not what is fuzzed here; the other wrangler.toml limits stay as deployed.
        MAX_CONCURRENT_JOBS: '16',
        // Work bounds sized to the fuzzer's 10 s hang timeout on this 2-core machine: an input the
        // node would run for minutes within the deployed bound must be refused here, not counted as a hang.
        MAX_EVALUATIONS: '1000',
      },
      onStdio: (text) => this.onLog(text),
    });
    await (await this.api.mf.getR2Bucket('MODELS', 'api')).put(EDGE.key, EDGE.bytes);
    const url = await this.api.mf.ready;
    this.base = url.origin;
    this.port = Number(url.port);
  }

  private onLog(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.startsWith('{')) {
        try {
          const event = JSON.parse(line) as { msg?: string; request_id?: string };
          if (event.msg === 'unhandled') this.badLogs.push({ requestId: event.request_id, line });
        } catch {
          this.badLogs.push({ requestId: undefined, line });
        }
      } else if (/kj\/compat\/http\.c\+\+|Incoming CONNECT/.test(line)) {
        this.runtimeLogs.push(line);
      } else if (/uncaught|unhandled|internal error|exception/i.test(line)) {
        this.badLogs.push({ requestId: /fuzz-[\w-]+/.exec(line)?.[0], line });
      }
    }
  }

  /** Keys of three tenants and uploads in known states; with `job`, a finished job too. */
  async makeContext(job: boolean): Promise<void> {
    const key = await this.api.key('fuzz');
    const otherKey = await this.api.key('other');
    const usageOnlyKey = await this.api.key('fuzz', ['usage']);
    const declare = async (k: string, bytes: Uint8Array, send: number) => {
      const auth = { authorization: `Bearer ${k}` };
      const res = await this.api.fetch('/v1/uploads', {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({
          length: bytes.byteLength,
          content_type: 'image/png',
          sha256: sha256Hex(bytes),
        }),
      });
      const { id } = (await res.json()) as { id: string };
      if (send > 0) {
        const chunk = bytes.subarray(0, send);
        const r = await this.api.fetch(`/v1/uploads/${id}`, {
          method: 'PATCH',
          headers: {
            ...auth,
            'content-type': 'application/offset+octet-stream',
            'upload-offset': '0',
            'upload-checksum': checksumHeader(chunk),
          },
          body: chunk as unknown as BodyInit,
        });
        if (r.status !== 204) throw new Error(`fuzz setup: PATCH ${r.status} ${await r.text()}`);
      }
      return id;
    };
    const kb = new Uint8Array(1024).fill(3);
    this.ctx = {
      key,
      otherKey,
      usageOnlyKey,
      emptyUpload: await declare(key, kb, 0),
      halfUpload: await declare(key, kb, 512),
      completeUpload: await declare(key, SLICE, SLICE.byteLength),
      otherUpload: await declare(otherKey, SLICE, SLICE.byteLength),
      doneJob: this.ctx?.doneJob ?? '00000000-0000-4000-8000-000000000000',
      resultBytes: this.ctx?.resultBytes ?? 0,
    };
    if (job) await this.finishJob();
  }

  private async finishJob(): Promise<void> {
    const auth = { authorization: `Bearer ${this.ctx.key}` };
    const res = await this.api.fetch('/v1/jobs', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': 'fuzz-done-job' },
      body: JSON.stringify({ upload_id: this.ctx.completeUpload, model: 'brain-wm-2d' }),
    });
    if (res.status !== 202) throw new Error(`fuzz setup: job ${res.status} ${await res.text()}`);
    const { id } = (await res.json()) as { id: string };
    for (let i = 0; i < 1200; i++) {
      const job = (await (await this.api.fetch(`/v1/jobs/${id}`, { headers: auth })).json()) as {
        status: string;
        result: { bytes: number } | null;
      };
      if (job.status === 'succeeded') {
        this.ctx.doneJob = id;
        this.ctx.resultBytes = job.result!.bytes;
        return;
      }
      if (job.status === 'failed' || job.status === 'cancelled')
        throw new Error(`fuzz setup: job ${job.status}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('fuzz setup: the job did not finish in 120 s');
  }

  /** Is the Worker answering `/healthz` within `ms`? */
  async workerAlive(ms = 3000): Promise<boolean> {
    try {
      const res = await fetch(`${this.base}/healthz`, { signal: AbortSignal.timeout(ms) });
      await res.arrayBuffer();
      return res.status === 200;
    } catch {
      return false;
    }
  }

  /** After a hang: a fresh node on the same port, and a fresh API if the Worker no longer answers. */
  async recover(): Promise<void> {
    await this.node.kill();
    this.restarts.node++;
    if (!(await this.workerAlive())) {
      await this.api.dispose();
      this.restarts.api++;
      await this.startNode();
      await this.startApi();
      await this.makeContext(false);
      await this.warmEdge();
      return;
    }
    await this.startNode();
  }

  async dispose(): Promise<void> {
    clearInterval(this.watchdog);
    await this.api?.dispose();
    await this.node?.kill();
  }
}

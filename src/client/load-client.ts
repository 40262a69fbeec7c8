/**
 * The seed's load client: sends encryption requests at `rate_per_second` for
 * `duration_seconds`, each through the client middleware (with failover), verifies every
 * result by extracting it, records one JSON line per request, and summarises.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CloudP2PError, ExitCode, errorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { summarize, type LatencySummary } from '../util/stats.js';
import { CloudClient } from './cloud-client.js';
import { resolveCloudTrust } from './cloud-trust.js';
import type { ClientConfig } from './config.js';
import { buildTaskPayload, verifyResult } from './payload.js';

export interface RequestRecord {
  client: string;
  task_id: string;
  image: string;
  server: number | null;
  servers: number[];
  start_ms: number;
  end_ms: number;
  latency_ms: number;
  outcome: 'ok' | 'failed' | 'verify_failed';
  error: string | null;
  reassignments: number;
}

export interface LoadSummary {
  client: string;
  sent: number;
  succeeded: number;
  failed: number;
  duration_s: number;
  throughput_per_s: number;
  latency_ms: LatencySummary;
  per_server: Record<string, number>;
  failures: Record<string, number>;
}

export interface LoadRunHooks {
  onRecord?(record: RequestRecord): void;
}

interface LoadedImage {
  name: string;
  bytes: Uint8Array;
  payload: Uint8Array;
}

async function loadImages(paths: string[]): Promise<LoadedImage[]> {
  return Promise.all(
    paths.map(async (path) => {
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(await readFile(path));
      } catch (err) {
        throw new CloudP2PError(
          'file_unreadable',
          `cannot read image ${path} listed in the client config: ${errorMessage(err)}`,
          ExitCode.badInput,
        );
      }
      return { name: basename(path), bytes, payload: buildTaskPayload(bytes) };
    }),
  );
}

export class LoadRun {
  readonly records: RequestRecord[] = [];
  private sent = 0;
  private succeeded = 0;
  private inFlight = 0;
  private started_ms = 0;
  private recordStream: WriteStream | null = null;

  constructor(
    private readonly config: ClientConfig,
    private readonly logger: Logger,
    private readonly hooks: LoadRunHooks = {},
  ) {}

  get progress(): {
    sent: number;
    done: number;
    ok: number;
    failed: number;
    inFlight: number;
    elapsed_s: number;
  } {
    return {
      sent: this.sent,
      done: this.records.length,
      ok: this.succeeded,
      failed: this.records.length - this.succeeded,
      inFlight: this.inFlight,
      elapsed_s: this.started_ms === 0 ? 0 : (performance.now() - this.started_ms) / 1000,
    };
  }

  async run(): Promise<LoadSummary> {
    const images = await loadImages(this.config.requests.images);
    if (this.config.output.records_path) {
      mkdirSync(dirname(this.config.output.records_path), { recursive: true });
      this.recordStream = createWriteStream(this.config.output.records_path, { flags: 'w' });
    }
    if (this.config.output.save_dir) mkdirSync(this.config.output.save_dir, { recursive: true });
    const client = await CloudClient.connect({
      clientId: this.config.name,
      servers: this.config.servers,
      trust: resolveCloudTrust(this.config.tls),
      clusterId: this.config.cluster_id,
      taskDeadline_ms: this.config.requests.task_deadline_ms,
      logger: this.logger,
    });
    const runId = randomBytes(4).toString('hex');
    const { rate_per_second, duration_seconds, max_in_flight } = this.config.requests;
    const total = Math.max(1, Math.round(rate_per_second * duration_seconds));
    const interval_ms = 1000 / rate_per_second;
    this.started_ms = performance.now();
    const tasks: Promise<void>[] = [];
    try {
      for (let n = 0; n < total; n++) {
        // Open-loop schedule: request n leaves at n * interval, whatever earlier ones are doing.
        const due_ms = this.started_ms + n * interval_ms;
        const wait_ms = due_ms - performance.now();
        if (wait_ms > 0) await sleep(wait_ms);
        while (this.inFlight >= max_in_flight) await sleep(5);
        const image = images[n % images.length] as LoadedImage;
        tasks.push(this.one(client, `${runId}-${n + 1}`, image));
      }
      await Promise.all(tasks);
    } finally {
      client.close();
      await new Promise<void>((resolve) =>
        this.recordStream ? this.recordStream.end(resolve) : resolve(),
      );
    }
    return this.summary();
  }

  private async one(client: CloudClient, taskId: string, image: LoadedImage): Promise<void> {
    this.sent++;
    this.inFlight++;
    const start = Date.now();
    const started_ms = performance.now();
    let record: RequestRecord;
    try {
      const result = await client.encrypt(taskId, image.payload);
      let outcome: RequestRecord['outcome'] = 'ok';
      let error: string | null = null;
      try {
        await verifyResult(result.png, image.bytes);
        if (this.config.output.save_dir)
          await writeFile(join(this.config.output.save_dir, `${taskId}.png`), result.png);
      } catch (err) {
        outcome = 'verify_failed';
        error = errorMessage(err);
      }
      record = this.record(taskId, image, start, started_ms, {
        server: result.serverId,
        servers: result.servers,
        reassignments: result.reassignments,
        outcome,
        error,
      });
    } catch (err) {
      record = this.record(taskId, image, start, started_ms, {
        server: null,
        servers: [],
        reassignments: 0,
        outcome: 'failed',
        error: errorMessage(err),
      });
    } finally {
      this.inFlight--;
    }
    this.records.push(record);
    if (record.outcome === 'ok') this.succeeded++;
    this.recordStream?.write(`${JSON.stringify(record)}\n`);
    this.hooks.onRecord?.(record);
  }

  private record(
    taskId: string,
    image: LoadedImage,
    start: number,
    started_ms: number,
    rest: Pick<RequestRecord, 'server' | 'servers' | 'reassignments' | 'outcome' | 'error'>,
  ): RequestRecord {
    const latency_ms = performance.now() - started_ms;
    return {
      client: this.config.name,
      task_id: taskId,
      image: image.name,
      start_ms: start,
      end_ms: start + Math.round(latency_ms),
      latency_ms: Math.round(latency_ms * 10) / 10,
      ...rest,
    };
  }

  summary(): LoadSummary {
    const ok = this.records.filter((r) => r.outcome === 'ok');
    const perServer: Record<string, number> = {};
    for (const r of ok) perServer[String(r.server)] = (perServer[String(r.server)] ?? 0) + 1;
    const failures: Record<string, number> = {};
    for (const r of this.records)
      if (r.outcome !== 'ok')
        failures[r.error ?? r.outcome] = (failures[r.error ?? r.outcome] ?? 0) + 1;
    const duration_s = (performance.now() - this.started_ms) / 1000;
    return {
      client: this.config.name,
      sent: this.sent,
      succeeded: ok.length,
      failed: this.records.length - ok.length,
      duration_s,
      throughput_per_s: ok.length / duration_s,
      latency_ms: summarize(ok.map((r) => r.latency_ms)),
      per_server: perServer,
      failures,
    };
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function formatSummary(summary: LoadSummary): string {
  const l = summary.latency_ms;
  const share = Object.entries(summary.per_server)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(
      ([server, count]) =>
        `server ${server}: ${count} (${((100 * count) / Math.max(1, summary.succeeded)).toFixed(1)}%)`,
    )
    .join(', ');
  const lines = [
    `${summary.client}: sent ${summary.sent}, succeeded ${summary.succeeded}, failed ${summary.failed} in ${summary.duration_s.toFixed(1)} s (${summary.throughput_per_s.toFixed(1)} images/s)`,
    `latency ms: p50 ${fmt(l.p50)}, p95 ${fmt(l.p95)}, p99 ${fmt(l.p99)}, max ${fmt(l.max)}`,
    `per-server share: ${share || 'none'}`,
  ];
  for (const [reason, count] of Object.entries(summary.failures))
    lines.push(`failed ×${count}: ${reason}`);
  return lines.join('\n');
}

function fmt(value: number): string {
  return Number.isFinite(value) ? value.toFixed(0) : '-';
}

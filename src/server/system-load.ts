/**
 * Samples this machine's load for the election score: CPU busy percentage over the last sample
 * interval (from os.cpus() deltas), memory used percentage, and the 1-minute load average.
 * Cheap enough to call a few times a second from the event loop.
 */
import { cpus, freemem, loadavg, totalmem } from 'node:os';

export interface SystemLoadSample {
  cpu_pct: number;
  memory_used_pct: number;
  load_average: number;
}

interface CpuTimes {
  busy: number;
  total: number;
}

function readCpuTimes(): CpuTimes {
  let busy = 0;
  let total = 0;
  for (const cpu of cpus()) {
    const { user, nice, sys, irq, idle } = cpu.times;
    busy += user + nice + sys + irq;
    total += user + nice + sys + irq + idle;
  }
  return { busy, total };
}

export class SystemLoadSampler {
  private previous: CpuTimes = readCpuTimes();
  private lastCpuPct = 0;

  sample(): SystemLoadSample {
    const now = readCpuTimes();
    const totalDelta = now.total - this.previous.total;
    // os.cpus() ticks are coarse (10 ms); keep the last value until enough time has passed.
    if (totalDelta >= 20) {
      this.lastCpuPct = clampPct((100 * (now.busy - this.previous.busy)) / totalDelta);
      this.previous = now;
    }
    const total = totalmem();
    return {
      cpu_pct: this.lastCpuPct,
      memory_used_pct: total > 0 ? clampPct((100 * (total - freemem())) / total) : 0,
      load_average: loadavg()[0] ?? 0,
    };
  }
}

function clampPct(value: number): number {
  return Number.isFinite(value) ? Math.min(100, Math.max(0, value)) : 0;
}

// The process's own figures, under the names Prometheus' client libraries use (so dashboards made
// for them work): CPU, memory, open files, start time, and how busy the event loop was.
import { readdirSync } from 'node:fs';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import type { MetricsRegistry } from './registry.js';

function openFileCount(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return NaN; // not Linux: reported as NaN rather than a made-up figure
  }
}

// Heap figures come from V8's statistics, which read no /proc file (process.memoryUsage() reads
// the resident size each time it is called).
export function registerProcessMetrics(registry: MetricsRegistry): void {
  const startSeconds = Math.round((Date.now() - performance.now()) / 1000);
  registry.derived('process_cpu_user_seconds_total', 'User CPU time spent, in seconds', 'counter', () => process.cpuUsage().user / 1e6);
  registry.derived('process_cpu_system_seconds_total', 'System CPU time spent, in seconds', 'counter', () => process.cpuUsage().system / 1e6);
  registry.derived('process_resident_memory_bytes', 'Resident memory size, in bytes', 'gauge', () => process.memoryUsage.rss());
  registry.derived('process_open_fds', 'Open file descriptors', 'gauge', openFileCount);
  registry.derived('process_start_time_seconds', 'Start time of the process since the Unix epoch, in seconds', 'gauge', () => startSeconds);
  registry.derived('nodejs_heap_size_total_bytes', 'V8 heap reserved, in bytes', 'gauge', () => getHeapStatistics().total_heap_size);
  registry.derived('nodejs_heap_size_used_bytes', 'V8 heap in use, in bytes', 'gauge', () => getHeapStatistics().used_heap_size);
  registry.derived('nodejs_external_memory_bytes', 'Memory of C++ objects bound to JavaScript (Buffers), in bytes', 'gauge', () => getHeapStatistics().external_memory);
  // Utilization since the previous scrape: no timer and no histogram, just two readings.
  let previous: EventLoopUtilization = performance.eventLoopUtilization();
  registry.derived('nodejs_eventloop_utilization', 'Share of time the event loop was busy since the previous scrape (0 to 1)', 'gauge', () => {
    const now = performance.eventLoopUtilization();
    const since = performance.eventLoopUtilization(now, previous);
    previous = now;
    return since.utilization;
  });
}

/**
 * The directory store's counters in a server's /metrics: what store.stats() says, read at every
 * scrape (ServerMetrics.watchDirectory).
 */
import { describe, expect, it } from 'vitest';
import { openDirectory } from '../../../src/directory/open.js';
import type { DirectoryStats } from '../../../src/directory/store.js';
import { ServerMetrics } from '../../../src/server/metrics.js';

describe('directory metrics', () => {
  it('a SQLite store counts from zero and has no node list', async () => {
    const store = await openDirectory('sqlite::memory:');
    try {
      await store.registerUser({ username: 'alice', public_key: new Uint8Array(32) });
      expect(store.stats()).toEqual({
        retries: { lock_conflict: 0, node_unavailable: 0 },
        node_skips: 0,
        nodes: [],
      });
      const metrics = new ServerMetrics();
      metrics.watchDirectory(() => store.stats());
      const text = await metrics.text();
      expect(text).toContain('cloudp2p_directory_retries_total{reason="lock_conflict"} 0');
      expect(text).toContain('cloudp2p_directory_node_skips_total 0');
      expect(text).not.toMatch(/cloudp2p_directory_node_serving\{/);
    } finally {
      await store.close();
    }
    expect(store.stats().node_skips).toBe(0); // still answers after close
  });

  it('exports retries by reason, node skips and each node serving or not, as of each scrape', async () => {
    let stats: DirectoryStats = {
      retries: { lock_conflict: 3, node_unavailable: 1 },
      node_skips: 1,
      nodes: [
        { label: '10.0.0.1:3306', serving: false, problem: 'cannot connect (ECONNREFUSED)' },
        { label: '10.0.0.2:3306', serving: true, problem: undefined },
      ],
    };
    const metrics = new ServerMetrics();
    metrics.watchDirectory(() => stats);
    let text = await metrics.text();
    expect(text).toContain('cloudp2p_directory_retries_total{reason="lock_conflict"} 3');
    expect(text).toContain('cloudp2p_directory_retries_total{reason="node_unavailable"} 1');
    expect(text).toContain('cloudp2p_directory_node_skips_total 1');
    expect(text).toContain('cloudp2p_directory_node_serving{node="10.0.0.1:3306"} 0');
    expect(text).toContain('cloudp2p_directory_node_serving{node="10.0.0.2:3306"} 1');

    stats = {
      retries: { lock_conflict: 5, node_unavailable: 1 },
      node_skips: 1,
      nodes: stats.nodes.map((n) => ({ ...n, serving: true, problem: undefined })),
    };
    text = await metrics.text();
    expect(text).toContain('cloudp2p_directory_retries_total{reason="lock_conflict"} 5');
    expect(text).toContain('cloudp2p_directory_node_serving{node="10.0.0.1:3306"} 1');
  });
});

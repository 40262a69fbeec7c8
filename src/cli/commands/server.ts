/**
 * `cloudp2p server --config config/server1.toml`: runs one cloud server until SIGINT/SIGTERM,
 * then shuts down gracefully (tells its peers, finishes running tasks, closes its ports).
 */
import type { Command } from 'commander';
import { dashboardPeersFromConfig, registerDashboardRoutes } from '../../server/dashboard.js';
import { openDirectory, type DirectoryStore } from '../../directory/index.js';
import { DirectoryService } from '../../server/directory-service.js';
import { createEncryptExecutor } from '../../server/encrypt-executor.js';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { loadServerTls } from '../../server/cluster-keys.js';
import { loadServerConfig, type ServerConfig } from '../../server/config.js';
import { INSECURE_PLAINTEXT, type ServerSecurity } from '../../transport/tls.js';
import type { Logger } from '../../util/log.js';
import { ServerRuntime } from '../../server/runtime.js';
import { createLogger } from '../../util/log.js';

export interface ServerCommandOptions {
  config: string;
  failureSimulation?: boolean;
  insecurePlaintextForBenchmark?: boolean;
}

export async function runServer(options: ServerCommandOptions): Promise<void> {
  const overrides =
    options.failureSimulation === undefined ? {} : { failureSimulation: options.failureSimulation };
  const config = loadServerConfig(options.config, overrides);
  const logger = createLogger(`server-${config.id}`);
  let security: ServerSecurity;
  if (options.insecurePlaintextForBenchmark) {
    logger.warn(
      'INSECURE: plaintext links, no membership proof (--insecure-plaintext-for-benchmark); for benchmarks only',
    );
    security = { kind: INSECURE_PLAINTEXT };
  } else {
    const loaded = loadServerTls(config);
    for (const warning of loaded.warnings) logger.warn(warning);
    security = loaded.security;
  }
  warnAboutUnresolvedPeers(config, logger);
  const executor = await createEncryptExecutor({
    threads: config.encryption.thread_pool_size,
    maxQueue: config.encryption.max_queue_size,
    coverPath: config.encryption.cover_path,
    jobTimeout_ms: config.limits.request_timeout_ms,
  });
  const extraHandlers = [];
  let directory: DirectoryService | null = null;
  let directoryStore: DirectoryStore | undefined;
  if (config.directory.url) {
    const store = await openDirectory(config.directory.url, {
      on_warning: (message) => logger.warn(message),
    });
    directory = new DirectoryService({
      store,
      clusterId: config.cluster_id,
      logger: logger.child('directory'),
    });
    directory.startSweeping();
    directoryStore = store;
    extraHandlers.push(directory);
    logger.info('directory of service ready', { store: store.description });
  } else {
    logger.warn('no [directory] url configured: this server answers no directory requests');
  }
  const runtime = new ServerRuntime({ config, logger, executor, extraHandlers, security });
  directory?.onAnswered((op, outcome) => runtime.metrics.directoryRequests.inc({ op, outcome }));
  if (directoryStore) runtime.metrics.watchDirectory(directoryStore.stats.bind(directoryStore));
  const dashboard = registerDashboardRoutes(runtime, {
    peers: dashboardPeersFromConfig(config),
    logger,
  });
  try {
    await runtime.start();
  } catch (err) {
    // Nothing half-started stays behind: the worker threads and the directory close too.
    dashboard.close();
    await executor.close(0);
    for (const handler of extraHandlers) await handler.close();
    throw err;
  }
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) {
        logger.warn(`second ${signal}: exiting now`);
        process.exit(1);
      }
      stopping = true;
      logger.info(`received ${signal}`);
      dashboard.close();
      runtime.stop().then(resolve, (err: unknown) => {
        logger.error('shutdown failed', { error: String(err) });
        resolve();
      });
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}

/** A peer whose host name does not resolve is probably a typo: say so, but keep going. */
function warnAboutUnresolvedPeers(config: ServerConfig, logger: Logger): void {
  for (const peer of config.peers) {
    const host = peer.address.host;
    if (isIP(host)) continue;
    lookup(host).catch((err: NodeJS.ErrnoException) =>
      logger.warn('peer address does not resolve; will keep trying', {
        peer: peer.id,
        address: `${host}:${peer.address.port}`,
        error: err.code ?? err.message,
      }),
    );
  }
}

export function registerServerCommand(program: Command): void {
  program
    .command('server')
    .description('run one cloud server (leader election, load balancing, encryption workers)')
    .requiredOption('-c, --config <file>', 'server TOML config, e.g. config/server1.toml')
    .option('--failure-simulation', 'enable the built-in failure simulation (overrides the config)')
    .option(
      '--no-failure-simulation',
      'disable the built-in failure simulation (overrides the config)',
    )
    .option(
      '--insecure-plaintext-for-benchmark',
      'INSECURE: no TLS, no membership proof; only for bench:cluster to measure what TLS costs',
    )
    .addHelpText(
      'after',
      '\nLogs go to stderr, one line per event; set LOG_LEVEL=debug|info|warn|error.\n' +
        "HTTP: the dashboard (/), /healthz, /status (JSON), /metrics (Prometheus) on the config's http_address.",
    )
    .action(async (opts: ServerCommandOptions) => {
      await runServer(opts);
    });
}

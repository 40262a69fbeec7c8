/**
 * `cloudp2p server --config config/server1.toml`: runs one cloud server until SIGINT/SIGTERM,
 * then shuts down gracefully (tells its peers, finishes running tasks, closes its ports).
 */
import type { Command } from 'commander';
import { dashboardPeersFromConfig, registerDashboardRoutes } from '../../server/dashboard.js';
import { openDirectory } from '../../directory/index.js';
import { DirectoryService } from '../../server/directory-service.js';
import { createEncryptExecutor } from '../../server/encrypt-executor.js';
import { loadServerConfig } from '../../server/config.js';
import { ServerRuntime } from '../../server/runtime.js';
import { createLogger } from '../../util/log.js';

export interface ServerCommandOptions {
  config: string;
  failureSimulation?: boolean;
}

export async function runServer(options: ServerCommandOptions): Promise<void> {
  const overrides =
    options.failureSimulation === undefined ? {} : { failureSimulation: options.failureSimulation };
  const config = loadServerConfig(options.config, overrides);
  const logger = createLogger(`server-${config.id}`);
  const executor = await createEncryptExecutor({
    threads: config.encryption.thread_pool_size,
    maxQueue: config.encryption.max_queue_size,
    coverPath: config.encryption.cover_path,
    jobTimeout_ms: config.limits.request_timeout_ms,
  });
  const extraHandlers = [];
  if (config.directory.url) {
    const store = await openDirectory(config.directory.url, {
      on_warning: (message) => logger.warn(message),
    });
    const directory = new DirectoryService({
      store,
      clusterId: config.cluster_id,
      logger: logger.child('directory'),
    });
    directory.startSweeping();
    extraHandlers.push(directory);
    logger.info('directory of service ready', { store: store.description });
  } else {
    logger.warn('no [directory] url configured: this server answers no directory requests');
  }
  const runtime = new ServerRuntime({ config, logger, executor, extraHandlers });
  const dashboard = registerDashboardRoutes(runtime, {
    peers: dashboardPeersFromConfig(config),
    logger,
  });
  await runtime.start();
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
    .addHelpText(
      'after',
      '\nLogs go to stderr, one line per event; set LOG_LEVEL=debug|info|warn|error.\n' +
        "HTTP: the dashboard (/), /healthz, /status (JSON), /metrics (Prometheus) on the config's http_address.",
    )
    .action(async (opts: { config: string; failureSimulation?: boolean }) => {
      await runServer(opts);
    });
}

import { mkdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { pino } from 'pino';
import { isOneError } from '../core/errors.js';
import { openStore } from '../store/index.js';
import { AgentGateway } from './agents/agent-gateway.js';
import { ConsoleProxy } from './agents/console-proxy.js';
import { HostCredentials } from './agents/host-credentials.js';
import { LifecycleController } from './agents/lifecycle-controller.js';
import { LogStreams } from './agents/log-streams.js';
import { type AppContext, buildApp } from './app.js';
import { BaseImages } from './base-images.js';
import { bootstrap, ONEADMIN_AUTH_FILE } from './bootstrap.js';
import { parseServerConfig, type ServerConfig } from './config.js';
import { registerGuestKitImages } from './guest-kit-images.js';
import { HostFailureHook } from './monitoring/failure-hook.js';
import { MonitorController } from './monitoring/monitor-controller.js';
import { loadOrCreatePki } from './pki.js';
import { SchedActionRunner } from './sched-action-runner.js';

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

function advertisedAgentUrl(config: ServerConfig, port: number): string {
  if (config.agentUrl) return config.agentUrl;
  const host = config.agentHost === '0.0.0.0' || config.agentHost === '::' ? hostname() : config.agentHost;
  return `https://${host}:${port}`;
}

/**
 * `oneedge server [--data-dir D] [--host H] [--port P] [--db-url URL] [--agent-port P] …`:
 * the front-end daemon — REST API, agent listener, lifecycle controller.
 */
export async function main(argv: string[]): Promise<void> {
  let config: ServerConfig;
  try {
    config = parseServerConfig(argv, process.env);
  } catch (err) {
    process.stderr.write(`oneedge server: ${isOneError(err) ? err.message : String(err)}\n`);
    process.exit(2);
  }
  const log = pino({
    level: config.logLevel,
    base: { service: 'oneedge-server' },
    redact: ['req.headers.authorization'],
  });
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const store = await openStore(config.database);
  await bootstrap(store, config.dataDir, config.scryptCost, log);
  const images = new BaseImages(store, config.dataDir, log);
  await images.ensure();
  await registerGuestKitImages(store, config.dataDir, config.guestKitDir, log).catch((err: unknown) =>
    log.warn({ err: String(err) }, 'guest kit images not registered'),
  );

  const pki = await loadOrCreatePki(config.dataDir, config.agentUrl ? [new URL(config.agentUrl).hostname] : []);
  const credentials = new HostCredentials(store);
  let imageService: AppContext['images'] | undefined;
  const gateway = new AgentGateway(store, pki, credentials, log.child({ component: 'agent-gateway' }), {
    heartbeatMs: config.heartbeatSeconds * 1000,
    maxConnecting: config.agentMaxConnecting,
    imageFile: (hostId, imageId) => images.fileFor(hostId, imageId),
    storeImage: (hostId, imageId, body, length, sha256) => {
      if (!imageService) throw new Error('the image service is not ready');
      return imageService.storeFromHost(hostId, imageId, body, length, sha256);
    },
  });
  const agentPort = await gateway.listen(config.agentHost, config.agentPort);
  const agentUrl = advertisedAgentUrl(config, agentPort);

  const consoles = new ConsoleProxy(gateway, log.child({ component: 'consoles' }));
  const logs = new LogStreams((hostId, msg) => gateway.send(hostId, msg), log.child({ component: 'logs' }));
  gateway.bindLogStreams(logs);
  const { app, ctx } = await buildApp(config, store, log, packageVersion(), {
    credentials,
    gateway,
    caHash: pki.caHash,
    agentUrl,
    consoles,
    logs,
  });
  imageService = ctx.images;
  consoles.attach(app.server);
  const controller = new LifecycleController(store, gateway, ctx.vms, log.child({ component: 'lifecycle' }), {
    actionTimeoutMs: config.actionTimeoutSeconds * 1000,
    resyncMs: 5000,
    stopTimeoutMs: config.stopTimeoutSeconds * 1000,
    defaultImageId: () => images.defaultImageId,
    coldMigrateMode: config.coldMigrateMode,
  });
  gateway.bind(controller);
  const monitor = new MonitorController(store, controller, log.child({ component: 'monitor' }), config.monitoring);
  const hook = new HostFailureHook(
    store,
    ctx.vms,
    log.child({ component: 'host-failure' }),
    config.monitoring.hostFailure,
  );
  monitor.onHostError = (hostId) => hook.hostError(hostId);
  monitor.onVmSamples = (samples) => void ctx.events.publishVmMonitoring(samples);
  gateway.bindMonitor(monitor);
  ctx.monitor = monitor;
  await monitor.start();
  store.objects.onChange((e) => {
    if (e.kind === 'host' && e.op === 'delete') gateway.disconnect(e.id, 'host deleted');
  });
  controller.start();
  const schedActions = new SchedActionRunner(store, ctx.vms, log.child({ component: 'sched-actions' }));
  await schedActions.start();

  const address = await app.listen({ host: config.host, port: config.port });
  log.info(
    {
      url: `${address}/api/v1`,
      agentUrl,
      caHash: pki.caHash,
      database: store.kind,
      authFile: `${config.dataDir}/${ONEADMIN_AUTH_FILE}`,
    },
    'oneedge server listening',
  );
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    hook.stop();
    await monitor.stop();
    await schedActions.stop();
    await controller.stop();
    await gateway.close();
    await app.close();
    await store.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

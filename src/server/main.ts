import { mkdirSync, readFileSync } from 'node:fs';
import { pino } from 'pino';
import { isOneError } from '../core/errors.js';
import { openStore } from '../store/index.js';
import { buildApp } from './app.js';
import { bootstrap, ONEADMIN_AUTH_FILE } from './bootstrap.js';
import { parseServerConfig } from './config.js';

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** `oneedge server [--data-dir D] [--host H] [--port P] [--db-url URL]`: the front-end daemon. */
export async function main(argv: string[]): Promise<void> {
  let config: ReturnType<typeof parseServerConfig>;
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
  const { app } = await buildApp(config, store, log, packageVersion());
  const address = await app.listen({ host: config.host, port: config.port });
  log.info(
    { url: `${address}/api/v1`, database: store.kind, authFile: `${config.dataDir}/${ONEADMIN_AUTH_FILE}` },
    'oneedge server listening',
  );
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    await app.close();
    await store.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

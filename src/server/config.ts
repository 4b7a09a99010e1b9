import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { OneError } from '../core/errors.js';
import type { DatabaseConfig } from '../store/index.js';

/**
 * The front-end's configuration: one schema, defaults in one place (units in
 * the names), parsed once at start-up and frozen. Sources, strongest first:
 * command-line flags, then ONEEDGE_* environment variables, then defaults.
 */
export interface ServerConfig {
  /** Where the SQLite database, credentials and PKI live. */
  readonly dataDir: string;
  readonly host: string;
  readonly port: number;
  readonly database: DatabaseConfig;
  /** Lifetime of a session token issued by POST /api/v1/auth/token. */
  readonly tokenTtlSeconds: number;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Largest accepted request body (templates, JSON). */
  readonly bodyLimitBytes: number;
  /** scrypt cost parameter N for password hashes (power of two). */
  readonly scryptCost: number;
  /** The agent listener (TLS): where edge-host agents dial in. */
  readonly agentHost: string;
  readonly agentPort: number;
  /** The URL agents are told to use in join commands; default https://<host>:<agentPort>. */
  readonly agentUrl: string | null;
  /** WebSocket ping period on agent links; a link missing two is dropped. */
  readonly heartbeatSeconds: number;
  /** Agent dials being set up at once (upgrade → welcome); more get 503 + Retry-After. */
  readonly agentMaxConnecting: number;
  /** How long a host operation may wait for a cut-off host before the VM fails. */
  readonly actionTimeoutSeconds: number;
  /** Graceful (ACPI / SIGTERM) shutdown before a kill. */
  readonly stopTimeoutSeconds: number;
  /** How rescheduled running VMs move (OpenNebula's COLD_MIGRATE_MODE): save | poweroff | poweroff-hard. */
  readonly coldMigrateMode: 'save' | 'poweroff' | 'poweroff-hard';
  /** Image imports may fetch from loopback, private and link-local addresses (off: SSRF guard). */
  readonly allowInternalImageUrls: boolean;
  /** Push monitoring (docs/monitoring.md). */
  readonly monitoring: MonitoringConfig;
  /** Bearer token a Prometheus scraper may use on /metrics (admin session tokens work too); null = admins only. */
  readonly metricsToken: string | null;
  /** A built guest kit (scripts/build-guest-kit) registered as KERNEL/RAMDISK images at start; default <dataDir>/guest-kit. */
  readonly guestKitDir: string;
}

export interface MonitoringConfig {
  /** A host silent for this many beacon periods goes ERROR (OpenNebula: 180 s = 6 beacons of 30 s; ours 3). */
  readonly silentBeacons: number;
  /** The beacon period assumed for a host until its agent says otherwise. */
  readonly beaconSeconds: number;
  /** Time series retention (HOST_/VM_MONITORING_EXPIRATION_TIME); 0 keeps everything. */
  readonly hostExpirationSeconds: number;
  readonly vmExpirationSeconds: number;
  /** Ingested records are written once per tick, in one transaction. */
  readonly flushMs: number;
  /** The host-failure hook (off by default): what to do with an ERROR host's VMs once fenced. */
  readonly hostFailure: {
    readonly action: 'none' | 'recreate' | 'delete';
    /** The fencing command, argv (no shell); must exit 0 before anything is done. */
    readonly fence: readonly string[];
    readonly graceSeconds: number;
    readonly fenceTimeoutSeconds: number;
  };
}

export const CONFIG_DEFAULTS = {
  dataDir: join(homedir(), '.oneedge'),
  host: '127.0.0.1',
  port: 2633,
  tokenTtlSeconds: 36_000, // OpenNebula's default login token lifetime: 10 h
  logLevel: 'info',
  bodyLimitBytes: 4 * 1024 * 1024,
  scryptCost: 2 ** 15,
  agentHost: '0.0.0.0',
  agentPort: 2634,
  heartbeatSeconds: 10,
  agentMaxConnecting: 256,
  actionTimeoutSeconds: 300,
  stopTimeoutSeconds: 30,
  coldMigrateMode: 'poweroff',
  silentBeacons: 3,
  beaconSeconds: 30,
  hostExpirationSeconds: 43_200, // monitord.conf HOST_MONITORING_EXPIRATION_TIME
  vmExpirationSeconds: 43_200, // monitord.conf VM_MONITORING_EXPIRATION_TIME
  monitorFlushMs: 500,
  hostFailureGraceSeconds: 60,
  hostFailureFenceTimeoutSeconds: 60,
} as const;

const FLAGS: Record<string, keyof RawConfig> = {
  '--data-dir': 'dataDir',
  '--host': 'host',
  '--port': 'port',
  '--db-url': 'dbUrl',
  '--token-ttl': 'tokenTtlSeconds',
  '--log-level': 'logLevel',
  '--agent-host': 'agentHost',
  '--agent-port': 'agentPort',
  '--agent-url': 'agentUrl',
  '--heartbeat': 'heartbeatSeconds',
  '--agent-max-connecting': 'agentMaxConnecting',
  '--action-timeout': 'actionTimeoutSeconds',
  '--cold-migrate-mode': 'coldMigrateMode',
  '--allow-internal-image-urls': 'allowInternalImageUrls',
  '--monitor-silent-beacons': 'silentBeacons',
  '--monitor-beacon': 'beaconSeconds',
  '--monitor-flush-ms': 'monitorFlushMs',
  '--host-monitoring-expiration': 'hostExpirationSeconds',
  '--vm-monitoring-expiration': 'vmExpirationSeconds',
  '--host-failure-action': 'hostFailureAction',
  '--host-failure-fence': 'hostFailureFence',
  '--host-failure-grace': 'hostFailureGraceSeconds',
  '--host-failure-fence-timeout': 'hostFailureFenceTimeoutSeconds',
  '--metrics-token-file': 'metricsTokenFile',
  '--guest-kit-dir': 'guestKitDir',
};

const ENV: Record<string, keyof RawConfig> = {
  ONEEDGE_DATA_DIR: 'dataDir',
  ONEEDGE_HOST: 'host',
  ONEEDGE_PORT: 'port',
  ONEEDGE_DB_URL: 'dbUrl',
  ONEEDGE_TOKEN_TTL: 'tokenTtlSeconds',
  ONEEDGE_LOG_LEVEL: 'logLevel',
  ONEEDGE_SCRYPT_COST: 'scryptCost',
  ONEEDGE_AGENT_HOST: 'agentHost',
  ONEEDGE_AGENT_PORT: 'agentPort',
  ONEEDGE_AGENT_URL: 'agentUrl',
  ONEEDGE_HEARTBEAT: 'heartbeatSeconds',
  ONEEDGE_AGENT_MAX_CONNECTING: 'agentMaxConnecting',
  ONEEDGE_ACTION_TIMEOUT: 'actionTimeoutSeconds',
  ONEEDGE_STOP_TIMEOUT: 'stopTimeoutSeconds',
  ONEEDGE_COLD_MIGRATE_MODE: 'coldMigrateMode',
  ONEEDGE_ALLOW_INTERNAL_IMAGE_URLS: 'allowInternalImageUrls',
  ONEEDGE_MONITOR_SILENT_BEACONS: 'silentBeacons',
  ONEEDGE_MONITOR_BEACON: 'beaconSeconds',
  ONEEDGE_HOST_MONITORING_EXPIRATION: 'hostExpirationSeconds',
  ONEEDGE_VM_MONITORING_EXPIRATION: 'vmExpirationSeconds',
  ONEEDGE_HOST_FAILURE_ACTION: 'hostFailureAction',
  ONEEDGE_HOST_FAILURE_FENCE: 'hostFailureFence',
  ONEEDGE_HOST_FAILURE_GRACE: 'hostFailureGraceSeconds',
  ONEEDGE_METRICS_TOKEN: 'metricsToken',
  ONEEDGE_GUEST_KIT_DIR: 'guestKitDir',
};

interface RawConfig {
  dataDir?: string;
  host?: string;
  port?: string;
  dbUrl?: string;
  tokenTtlSeconds?: string;
  logLevel?: string;
  scryptCost?: string;
  agentHost?: string;
  agentPort?: string;
  agentUrl?: string;
  heartbeatSeconds?: string;
  actionTimeoutSeconds?: string;
  agentMaxConnecting?: string;
  stopTimeoutSeconds?: string;
  coldMigrateMode?: string;
  allowInternalImageUrls?: string;
  silentBeacons?: string;
  beaconSeconds?: string;
  monitorFlushMs?: string;
  hostExpirationSeconds?: string;
  vmExpirationSeconds?: string;
  hostFailureAction?: string;
  hostFailureFence?: string;
  hostFailureGraceSeconds?: string;
  hostFailureFenceTimeoutSeconds?: string;
  metricsToken?: string;
  metricsTokenFile?: string;
  guestKitDir?: string;
}

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

export function parseServerConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): ServerConfig {
  const raw: RawConfig = {};
  for (const [name, key] of Object.entries(ENV)) {
    const v = env[name];
    if (v !== undefined && v !== '') raw[key] = v;
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const [flag, inline] = arg.includes('=')
      ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
      : [arg];
    const key = FLAGS[flag ?? ''];
    if (!key) throw invalid(`unknown option '${arg}' (known: ${Object.keys(FLAGS).join(', ')})`, arg);
    const value = inline ?? argv[++i];
    if (value === undefined) throw invalid(`option ${flag} needs a value`, flag ?? arg);
    raw[key] = value;
  }
  const dataDir = resolve(raw.dataDir ?? CONFIG_DEFAULTS.dataDir);
  const logLevel = raw.logLevel ?? CONFIG_DEFAULTS.logLevel;
  if (!LOG_LEVELS.has(logLevel))
    throw invalid(`log level '${logLevel}' is not one of ${[...LOG_LEVELS].join(', ')}`, 'logLevel');
  const scryptCost = int(raw.scryptCost, CONFIG_DEFAULTS.scryptCost, 'scryptCost', 1024, 2 ** 20);
  if ((scryptCost & (scryptCost - 1)) !== 0) throw invalid('scryptCost must be a power of two', 'scryptCost');
  return Object.freeze({
    dataDir,
    host: raw.host ?? CONFIG_DEFAULTS.host,
    port: int(raw.port, CONFIG_DEFAULTS.port, 'port', 0, 65535),
    database: databaseConfig(raw.dbUrl, dataDir),
    tokenTtlSeconds: int(raw.tokenTtlSeconds, CONFIG_DEFAULTS.tokenTtlSeconds, 'tokenTtlSeconds', 60, 365 * 86400),
    logLevel: logLevel as ServerConfig['logLevel'],
    bodyLimitBytes: CONFIG_DEFAULTS.bodyLimitBytes,
    scryptCost,
    agentHost: raw.agentHost ?? CONFIG_DEFAULTS.agentHost,
    agentPort: int(raw.agentPort, CONFIG_DEFAULTS.agentPort, 'agentPort', 0, 65535),
    agentUrl: raw.agentUrl ? agentUrl(raw.agentUrl) : null,
    heartbeatSeconds: int(raw.heartbeatSeconds, CONFIG_DEFAULTS.heartbeatSeconds, 'heartbeatSeconds', 1, 3600),
    agentMaxConnecting: int(
      raw.agentMaxConnecting,
      CONFIG_DEFAULTS.agentMaxConnecting,
      'agentMaxConnecting',
      1,
      100_000,
    ),
    actionTimeoutSeconds: int(
      raw.actionTimeoutSeconds,
      CONFIG_DEFAULTS.actionTimeoutSeconds,
      'actionTimeoutSeconds',
      1,
      86400,
    ),
    stopTimeoutSeconds: int(raw.stopTimeoutSeconds, CONFIG_DEFAULTS.stopTimeoutSeconds, 'stopTimeoutSeconds', 0, 3600),
    coldMigrateMode: coldMigrateMode(raw.coldMigrateMode),
    allowInternalImageUrls: bool(raw.allowInternalImageUrls, false, 'allowInternalImageUrls'),
    monitoring: monitoringConfig(raw),
    metricsToken: metricsToken(raw),
    guestKitDir: resolve(raw.guestKitDir ?? join(dataDir, 'guest-kit')),
  });
}

function monitoringConfig(raw: RawConfig): MonitoringConfig {
  const D = CONFIG_DEFAULTS;
  const action = raw.hostFailureAction ?? 'none';
  if (action !== 'none' && action !== 'recreate' && action !== 'delete')
    throw invalid(`hostFailureAction must be none, recreate or delete, got '${action}'`, 'hostFailureAction');
  let fence: string[] = [];
  if (raw.hostFailureFence) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw.hostFailureFence);
    } catch {
      parsed = undefined;
    }
    if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((a) => typeof a === 'string' && a !== ''))
      throw invalid(
        'hostFailureFence must be a JSON array of strings (argv), e.g. ["/usr/local/bin/fence","--host"]',
        'hostFailureFence',
      );
    fence = parsed;
  }
  if (action !== 'none' && fence.length === 0)
    throw invalid(`hostFailureAction ${action} needs a fencing command (hostFailureFence)`, 'hostFailureFence');
  const beaconSeconds = Number(raw.beaconSeconds ?? D.beaconSeconds);
  if (!Number.isFinite(beaconSeconds) || beaconSeconds < 0.05 || beaconSeconds > 3600)
    throw invalid('beaconSeconds must be a number from 0.05 to 3600', 'beaconSeconds');
  return Object.freeze({
    silentBeacons: int(raw.silentBeacons, D.silentBeacons, 'silentBeacons', 1, 100),
    beaconSeconds,
    hostExpirationSeconds: int(
      raw.hostExpirationSeconds,
      D.hostExpirationSeconds,
      'hostExpirationSeconds',
      0,
      10 * 365 * 86400,
    ),
    vmExpirationSeconds: int(
      raw.vmExpirationSeconds,
      D.vmExpirationSeconds,
      'vmExpirationSeconds',
      0,
      10 * 365 * 86400,
    ),
    flushMs: int(raw.monitorFlushMs, D.monitorFlushMs, 'monitorFlushMs', 10, 60_000),
    hostFailure: Object.freeze({
      action: action as MonitoringConfig['hostFailure']['action'],
      fence: Object.freeze(fence),
      graceSeconds: int(raw.hostFailureGraceSeconds, D.hostFailureGraceSeconds, 'hostFailureGraceSeconds', 0, 86400),
      fenceTimeoutSeconds: int(
        raw.hostFailureFenceTimeoutSeconds,
        D.hostFailureFenceTimeoutSeconds,
        'hostFailureFenceTimeoutSeconds',
        1,
        3600,
      ),
    }),
  });
}

function metricsToken(raw: RawConfig): string | null {
  let token = raw.metricsToken ?? null;
  if (raw.metricsTokenFile) {
    try {
      token = readFileSync(raw.metricsTokenFile, 'utf8').trim();
    } catch (err) {
      throw invalid(
        `cannot read metricsTokenFile ${raw.metricsTokenFile}: ${(err as Error).message}`,
        'metricsTokenFile',
      );
    }
  }
  if (token !== null && token.length < 16)
    throw invalid('the metrics token must be at least 16 characters', 'metricsToken');
  return token;
}

function coldMigrateMode(value: string | undefined): ServerConfig['coldMigrateMode'] {
  const mode = value ?? CONFIG_DEFAULTS.coldMigrateMode;
  if (mode === 'save' || mode === 'poweroff' || mode === 'poweroff-hard') return mode;
  throw invalid(`cold migrate mode '${mode}' is not one of save, poweroff, poweroff-hard`, 'coldMigrateMode');
}

function databaseConfig(url: string | undefined, dataDir: string): DatabaseConfig {
  if (!url) return { kind: 'sqlite', path: join(dataDir, 'one.db') };
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return { kind: 'postgres', url };
  if (url.startsWith('sqlite:')) return { kind: 'sqlite', path: resolve(url.slice('sqlite:'.length)) };
  throw invalid(
    `database URL must start with postgres://, postgresql:// or sqlite: (got '${url.split(':')[0]}:')`,
    'dbUrl',
  );
}

function agentUrl(url: string): string {
  if (!/^https:\/\/[^/\s]+$/.test(url))
    throw invalid(`agentUrl must look like https://host:port, got '${url}'`, 'agentUrl');
  return url;
}

function int(value: string | undefined, fallback: number, field: string, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw invalid(`${field} must be an integer from ${min} to ${max}`, field);
  return n;
}

function bool(value: string | undefined, fallback: boolean, field: string): boolean {
  if (value === undefined) return fallback;
  const v = value.toLowerCase();
  if (['yes', 'true', '1', 'on'].includes(v)) return true;
  if (['no', 'false', '0', 'off'].includes(v)) return false;
  throw invalid(`${field} must be yes or no, got '${value}'`, field);
}

function invalid(message: string, field: string): OneError {
  return new OneError('E_VALIDATION', message, { field });
}

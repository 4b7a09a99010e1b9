import swagger from '@fastify/swagger';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { Logger } from 'pino';
import { ERRORS, isOneError, OneError } from '../core/errors.js';
import type { Principal } from '../core/permissions.js';
import type { Store } from '../store/index.js';
import type { AgentGateway } from './agents/agent-gateway.js';
import type { ConsoleProxy } from './agents/console-proxy.js';
import type { HostCredentials } from './agents/host-credentials.js';
import type { LogStreams } from './agents/log-streams.js';
import { Sessions } from './auth/sessions.js';
import type { ServerConfig } from './config.js';
import { EventHub } from './events.js';
import { checkImagePath, DATABLOCK_FILESYSTEMS, ImageService } from './images/image-service.js';
import { registerMetricsRoute } from './monitoring/metrics.js';
import type { MonitorController } from './monitoring/monitor-controller.js';
import { registerAuthRoutes } from './routes/auth-routes.js';
import { registerConsoleRoutes } from './routes/console-routes.js';
import { registerEventRoutes } from './routes/event-routes.js';
import { registerHostRoutes } from './routes/host-routes.js';
import { registerHotplugRoutes } from './routes/hotplug-routes.js';
import { registerImageRoutes } from './routes/image-routes.js';
import { registerMonitoringRoutes } from './routes/monitoring-routes.js';
import { registerPoolRoutes } from './routes/pool-routes.js';
import { registerSchedActionRoutes } from './routes/sched-action-routes.js';
import { registerSummaryRoutes } from './routes/summary-routes.js';
import { registerSystemRoutes } from './routes/system-routes.js';
import { registerTemplateRoutes } from './routes/template-routes.js';
import { registerUserRoutes } from './routes/user-routes.js';
import { registerVmRoutes } from './routes/vm-routes.js';
import { registerVnetRoutes } from './routes/vnet-routes.js';
import { kindHandlers } from './services/kind-handlers.js';
import { ObjectService } from './services/object-service.js';
import { SecgroupService } from './services/secgroup-service.js';
import { UserService } from './services/user-service.js';
import { VmService } from './services/vm-service.js';
import { VnetService } from './services/vnet-service.js';
import { registerWebUi } from './web-ui.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}

/** The agent side of the front-end, present when the agent listener runs. */
export interface AgentServices {
  credentials: HostCredentials;
  gateway: AgentGateway;
  caHash: string;
  /** What join commands tell agents to dial. */
  agentUrl: string;
  /** VNC consoles proxied through the agent channel. */
  consoles?: ConsoleProxy;
  /** Followed workload logs (`GET /vms/:id/log?follow=true`), relayed through the agent channel. */
  logs?: LogStreams;
}

export interface AppContext {
  config: ServerConfig;
  store: Store;
  sessions: Sessions;
  objects: ObjectService;
  users: UserService;
  vms: VmService;
  nets: VnetService;
  events: EventHub;
  version: string;
  agents: AgentServices | null;
  images: ImageService;
  /** The monitor controller, when agents are served (set after start-up). */
  monitor?: MonitorController | null;
}

/** Routes reachable without a token. */
const PUBLIC_ROUTES = new Set(['/api/v1/auth/token', '/api/v1/health', '/api/v1/openapi.json']);

export const API_VERSION = '1';

/**
 * Builds the front-end's HTTP application: the REST API under /api/v1 with
 * its OpenAPI document generated from the same schemas that validate
 * requests, bearer-token authentication, and one error shape.
 */
export async function buildApp(
  config: ServerConfig,
  store: Store,
  logger: Logger,
  version: string,
  agents: AgentServices | null = null,
): Promise<{ app: FastifyInstance; ctx: AppContext }> {
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: config.bodyLimitBytes,
    // Requests are not logged one by one: a busy API would drown the log; errors are logged below.
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: true,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  });
  const sessions = new Sessions(store, config.tokenTtlSeconds);
  const users = new UserService(store, sessions, config.scryptCost);
  const nets = new VnetService(store);
  const vms = new VmService(store, nets);
  const secgroups = new SecgroupService(store);
  await secgroups.ensureDefault();
  let images: ImageService | undefined;
  const objects = new ObjectService(
    store,
    kindHandlers(users, vms, nets, secgroups, {
      freeBytes: (dsId) => (images as ImageService).freeBytes(dsId),
      noteDelete: (image) => images?.noteDelete(image),
      checkPath: (raw) => checkImagePath(raw, config.allowInternalImageUrls),
      filesystems: DATABLOCK_FILESYSTEMS,
    }),
  );
  images = new ImageService(store, objects, config.dataDir, logger.child({ component: 'images' }), {
    allowInternalUrls: config.allowInternalImageUrls,
  });
  vms.bind(objects);
  nets.bind(objects);
  const events = new EventHub(store);
  const ctx: AppContext = { config, store, sessions, objects, users, vms, nets, events, version, agents, images };

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'ONEedge API', version, description: 'REST API of the ONEedge front-end' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });

  app.decorateRequest('principal', null as unknown as Principal);
  app.addHook('onRequest', async (req) => {
    const path = req.url.split('?', 1)[0] ?? '';
    if (!path.startsWith('/api/') || PUBLIC_ROUTES.has(path)) return;
    const header = req.headers.authorization;
    if (!header?.startsWith('Bearer ')) {
      throw new OneError('E_UNAUTHENTICATED', 'missing bearer token: POST /api/v1/auth/token first');
    }
    req.principal = await sessions.authenticate(header.slice('Bearer '.length).trim());
  });

  app.setErrorHandler((err: FastifyError | OneError, req: FastifyRequest, reply: FastifyReply) => {
    const one = toOneError(err);
    if (one.status >= 500) req.log.error({ err, code: one.code }, 'request failed');
    else req.log.debug({ code: one.code, url: req.url }, 'request refused');
    void reply.status(one.status).send({ error: one.toJSON() });
  });
  const spaFallback = await registerWebUi(app);
  app.setNotFoundHandler((req, reply) => {
    if (spaFallback?.(req, reply)) return;
    void reply
      .status(404)
      .send({ error: new OneError('E_ROUTE_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`).toJSON() });
  });

  await app.register(
    async (api) => {
      registerSystemRoutes(api, ctx);
      registerAuthRoutes(api, ctx);
      registerPoolRoutes(api, ctx);
      registerUserRoutes(api, ctx);
      registerTemplateRoutes(api, ctx);
      registerVmRoutes(api, ctx);
      registerSchedActionRoutes(api, ctx);
      registerVnetRoutes(api, ctx);
      registerConsoleRoutes(api, ctx);
      registerHostRoutes(api, ctx);
      registerImageRoutes(api, ctx);
      registerEventRoutes(api, ctx);
      registerMonitoringRoutes(api, ctx);
      registerHotplugRoutes(api, ctx);
      registerSummaryRoutes(api, ctx);
    },
    { prefix: '/api/v1' },
  );
  registerMetricsRoute(app, ctx, () => ctx.monitor ?? null);
  await images.start();
  app.addHook('onClose', async () => {
    images?.stop();
    await events.close();
  });
  return { app, ctx };
}

function toOneError(err: FastifyError | OneError): OneError {
  if (isOneError(err)) return err;
  const fe = err as FastifyError;
  if (fe.validation) {
    const first = fe.validation[0];
    const where = first?.instancePath ? first.instancePath.slice(1).replaceAll('/', '.') : fe.validationContext;
    const field = first?.params && 'missingProperty' in first.params ? String(first.params.missingProperty) : where;
    return new OneError('E_VALIDATION', `${fe.validationContext ?? 'request'}: ${fe.message}`, {
      field,
      errors: fe.validation.map((v) => ({ path: v.instancePath, message: v.message })),
    });
  }
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new OneError('E_PAYLOAD_TOO_LARGE', fe.message);
  if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new OneError('E_BAD_REQUEST', fe.message);
  if (fe.statusCode === 400 || fe.code?.startsWith('FST_ERR_CTP')) return new OneError('E_BAD_REQUEST', fe.message);
  if (fe.statusCode && fe.statusCode < 500) {
    const code = Object.entries(ERRORS).find(([, v]) => v.status === fe.statusCode)?.[0] as keyof typeof ERRORS;
    return new OneError(code ?? 'E_BAD_REQUEST', fe.message);
  }
  return new OneError('E_INTERNAL', 'internal error; see the server log', {}, { cause: err });
}

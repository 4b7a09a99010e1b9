/**
 * Request bodies of the Firecracker API actions this driver uses, as JSON
 * Schemas written from Firecracker's published OpenAPI (swagger) description
 * (`src/api_server/swagger/firecracker.yaml`: BootSource, Drive,
 * NetworkInterface, MachineConfiguration, InstanceActionInfo, Metrics, Vm).
 * Only the fields and constraints the spec states; unknown fields are
 * refused, as Firecracker's own deserializer refuses them.
 */
export type JsonSchema = {
  type?: 'object' | 'string' | 'integer' | 'boolean' | 'number';
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean;
  enum?: readonly string[];
  minimum?: number;
  maximum?: number;
  pattern?: string;
};

const RateLimiter: JsonSchema = { type: 'object' };

export const FC_SCHEMAS: Record<string, JsonSchema> = {
  BootSource: {
    type: 'object',
    required: ['kernel_image_path'],
    additionalProperties: false,
    properties: {
      kernel_image_path: { type: 'string' },
      initrd_path: { type: 'string' },
      boot_args: { type: 'string' },
    },
  },
  Drive: {
    type: 'object',
    required: ['drive_id', 'is_root_device'],
    additionalProperties: false,
    properties: {
      drive_id: { type: 'string' },
      partuuid: { type: 'string' },
      is_root_device: { type: 'boolean' },
      cache_type: { type: 'string', enum: ['Unsafe', 'Writeback'] },
      is_read_only: { type: 'boolean' },
      path_on_host: { type: 'string' },
      rate_limiter: RateLimiter,
      io_engine: { type: 'string', enum: ['Sync', 'Async'] },
      socket: { type: 'string' },
    },
  },
  NetworkInterface: {
    type: 'object',
    required: ['iface_id', 'host_dev_name'],
    additionalProperties: false,
    properties: {
      iface_id: { type: 'string' },
      guest_mac: { type: 'string', pattern: '^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$' },
      host_dev_name: { type: 'string' },
      rx_rate_limiter: RateLimiter,
      tx_rate_limiter: RateLimiter,
    },
  },
  MachineConfiguration: {
    type: 'object',
    required: ['vcpu_count', 'mem_size_mib'],
    additionalProperties: false,
    properties: {
      vcpu_count: { type: 'integer', minimum: 1, maximum: 32 },
      mem_size_mib: { type: 'integer' },
      smt: { type: 'boolean' },
      track_dirty_pages: { type: 'boolean' },
      cpu_template: { type: 'string', enum: ['C3', 'T2', 'T2S', 'T2CL', 'T2A', 'V1N1', 'None'] },
      huge_pages: { type: 'string', enum: ['None', '2M'] },
    },
  },
  InstanceActionInfo: {
    type: 'object',
    required: ['action_type'],
    additionalProperties: false,
    properties: { action_type: { type: 'string', enum: ['FlushMetrics', 'InstanceStart', 'SendCtrlAltDel'] } },
  },
  Metrics: {
    type: 'object',
    required: ['metrics_path'],
    additionalProperties: false,
    properties: { metrics_path: { type: 'string' } },
  },
  Vm: {
    type: 'object',
    required: ['state'],
    additionalProperties: false,
    properties: { state: { type: 'string', enum: ['Paused', 'Resumed'] } },
  },
};

/** Which schema a request's body must match, by method and path. */
export function schemaFor(method: string, path: string): string | undefined {
  if (method === 'PUT' && path === '/boot-source') return 'BootSource';
  if (method === 'PUT' && /^\/drives\/[^/]+$/.test(path)) return 'Drive';
  if (method === 'PUT' && /^\/network-interfaces\/[^/]+$/.test(path)) return 'NetworkInterface';
  if (method === 'PUT' && path === '/machine-config') return 'MachineConfiguration';
  if (method === 'PUT' && path === '/actions') return 'InstanceActionInfo';
  if (method === 'PUT' && path === '/metrics') return 'Metrics';
  if (method === 'PATCH' && path === '/vm') return 'Vm';
  return undefined;
}

/** Problems of `value` against `schema` (empty when it matches), with JSON paths. */
export function validate(schema: JsonSchema, value: unknown, path = '$'): string[] {
  const errors: string[] = [];
  const t = schema.type;
  if (t === 'object') {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${path}: not an object`];
    const o = value as Record<string, unknown>;
    for (const r of schema.required ?? []) if (!(r in o)) errors.push(`${path}.${r}: required`);
    for (const [k, v] of Object.entries(o)) {
      const sub = schema.properties?.[k];
      if (!sub) {
        if (schema.additionalProperties === false) errors.push(`${path}.${k}: not allowed`);
      } else errors.push(...validate(sub, v, `${path}.${k}`));
    }
    return errors;
  }
  if (t === 'string' && typeof value !== 'string') return [`${path}: not a string`];
  if (t === 'boolean' && typeof value !== 'boolean') return [`${path}: not a boolean`];
  if (t === 'integer' && !Number.isInteger(value)) return [`${path}: not an integer`];
  if (schema.enum && !schema.enum.includes(value as string))
    errors.push(`${path}: not one of ${schema.enum.join(', ')}`);
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) errors.push(`${path}: below ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) errors.push(`${path}: above ${schema.maximum}`);
  }
  if (schema.pattern && typeof value === 'string' && !new RegExp(schema.pattern).test(value)) {
    errors.push(`${path}: does not match ${schema.pattern}`);
  }
  return errors;
}

/**
 * Load generator, run as a separate process by the benchmarks so the server
 * under test does not share an event loop (or a core's time slices) with the
 * client. Reads its job as JSON from argv[2], prints autocannon's summary as
 * JSON on stdout.
 */
import autocannon from 'autocannon';

interface Job {
  url: string;
  token: string;
  /** Path template; `{id}` is replaced by a random id from ids. */
  path: string;
  ids: number[];
  connections: number;
  durationSeconds: number;
}

const job = JSON.parse(process.argv[2] ?? '{}') as Job;
const pick = () => String(job.ids[Math.floor(Math.random() * job.ids.length)]);
const result = await autocannon({
  url: job.url,
  connections: job.connections,
  duration: job.durationSeconds,
  headers: { authorization: `Bearer ${job.token}` },
  requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: job.path.replace('{id}', pick()) }) }],
});
process.stdout.write(
  JSON.stringify({
    requestsPerSecond: result.requests.average,
    total: result.requests.total,
    latency: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
    errors: result.errors,
    non2xx: result.non2xx,
  }),
);

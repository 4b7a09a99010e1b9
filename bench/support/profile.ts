import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';

/**
 * Profiles only the part of a benchmark being measured: with
 * `BENCH_CPU_PROFILE=DIR` set, `start()` begins a V8 CPU profile and
 * `stop(name)` writes it to `DIR/<name>.cpuprofile` (open it in Chrome
 * DevTools or speedscope). Without the variable both do nothing.
 */
export class MeasuredProfile {
  private session: Session | null = null;
  private readonly dir = process.env.BENCH_CPU_PROFILE;

  async start(): Promise<void> {
    if (!this.dir) return;
    this.session = new Session();
    this.session.connect();
    await this.session.post('Profiler.enable');
    await this.session.post('Profiler.start');
  }

  async stop(name: string): Promise<void> {
    if (!this.session || !this.dir) return;
    const { profile } = await this.session.post('Profiler.stop');
    writeFileSync(join(this.dir, `${name}.cpuprofile`), JSON.stringify(profile));
    this.session.disconnect();
    this.session = null;
    console.log(`  CPU profile of the measured part: ${join(this.dir, `${name}.cpuprofile`)}`);
  }
}

import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { pino } from 'pino';
import type { AgentMessage } from '../core/agent-protocol.js';
import { LogFollowers, MAX_LOG_FOLLOWS } from './log-follower.js';

type Frame = Extract<AgentMessage, { t: 'log-data' | 'log-end' }>;

async function until(what: string, fn: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('LogFollowers (agent side of log follow)', () => {
  const root = mkdtempSync(join(tmpdir(), 'oneedge-follow-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const pathOf = (vmId: number) => join(root, 'vms', String(vmId), 'console.log');
  const setup = () => {
    const frames: Frame[] = [];
    let up = true;
    const followers = new LogFollowers(
      pathOf,
      (m) => {
        if (up) frames.push(m);
        return up;
      },
      pino({ level: 'silent' }),
    );
    const data = (id: string) =>
      frames
        .filter((f): f is Extract<Frame, { t: 'log-data' }> => f.t === 'log-data' && f.streamId === id)
        .map((f) => f.data)
        .join('');
    return { frames, followers, data, down: () => (up = false) };
  };

  test('sends the tail, then appended output as inotify reports it', async () => {
    mkdirSync(join(root, 'vms', '1'), { recursive: true });
    writeFileSync(pathOf(1), 'old line\nlast line\n');
    const { frames, followers, data } = setup();
    followers.start({ t: 'log-follow', streamId: 's1', vmId: 1, tail: 10, window: 1024 });
    await until('the tail', () => frames.length > 0);
    assert.deepEqual(frames[0], { t: 'log-data', streamId: 's1', data: 'last line\n', truncated: true });
    appendFileSync(pathOf(1), 'new 1\n');
    await until('the first append', () => data('s1').endsWith('new 1\n'));
    appendFileSync(pathOf(1), 'new 2\n');
    await until('the second append', () => data('s1').endsWith('new 2\n'));
    assert.equal(data('s1'), 'last line\nnew 1\nnew 2\n');
    assert.equal(followers.active, 1);
    followers.stop('s1');
    assert.equal(followers.active, 0);
    appendFileSync(pathOf(1), 'after stop\n');
    await new Promise((r) => setTimeout(r, 100));
    assert.doesNotMatch(data('s1'), /after stop/, 'nothing is sent after the viewer left');
  });

  test('never has more than the granted credit in flight; credit lets more through', async () => {
    mkdirSync(join(root, 'vms', '2'), { recursive: true });
    writeFileSync(pathOf(2), 'x'.repeat(300_000));
    const { followers, data } = setup();
    followers.start({ t: 'log-follow', streamId: 's2', vmId: 2, tail: 300_000, window: 40_000 });
    await until('the first window', () => data('s2').length === 40_000);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(data('s2').length, 40_000, 'stops at the window while the viewer does not read');
    followers.credit({ t: 'log-credit', streamId: 's2', chars: 100_000 });
    await until('the credited bytes', () => data('s2').length === 140_000);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(data('s2').length, 140_000);
    followers.credit({ t: 'log-credit', streamId: 's2', chars: 1_000_000 });
    await until('the rest', () => data('s2').length === 300_000);
    followers.stop('s2');
  });

  test('multi-byte characters split across reads arrive whole', async () => {
    mkdirSync(join(root, 'vms', '3'), { recursive: true });
    const text = 'é€😀'.repeat(5000);
    writeFileSync(pathOf(3), text);
    const { followers, data } = setup();
    followers.start({ t: 'log-follow', streamId: 's3', vmId: 3, tail: 1 << 20, window: 1 << 20 });
    await until('all of it', () => data('s3').length === text.length);
    assert.equal(data('s3'), text);
    followers.stop('s3');
  });

  test('ends with gone when the workload directory is removed, and refuses unknown VMs', async () => {
    mkdirSync(join(root, 'vms', '4'), { recursive: true });
    writeFileSync(pathOf(4), 'bye\n');
    const { frames, followers } = setup();
    followers.start({ t: 'log-follow', streamId: 's4', vmId: 4, tail: 100, window: 1000 });
    await until('started', () => frames.length > 0);
    rmSync(join(root, 'vms', '4'), { recursive: true });
    await until('the end', () => frames.some((f) => f.t === 'log-end'));
    assert.deepEqual(frames.at(-1), { t: 'log-end', streamId: 's4', reason: 'gone' });
    assert.equal(followers.active, 0);
    followers.start({ t: 'log-follow', streamId: 's5', vmId: 99, tail: 100, window: 1000 });
    const end = frames.at(-1) as Extract<Frame, { t: 'log-end' }>;
    assert.equal(end.t, 'log-end');
    assert.match(end.error ?? '', /VM 99 has no workload on this host/);
  });

  test('a dropped channel stops every stream; the number of streams is bounded', async () => {
    mkdirSync(join(root, 'vms', '6'), { recursive: true });
    writeFileSync(pathOf(6), '');
    const { frames, followers } = setup();
    for (let i = 0; i < MAX_LOG_FOLLOWS; i++) {
      followers.start({ t: 'log-follow', streamId: `m${i}`, vmId: 6, tail: 0, window: 100 });
    }
    assert.equal(followers.active, MAX_LOG_FOLLOWS);
    followers.start({ t: 'log-follow', streamId: 'one-too-many', vmId: 6, tail: 0, window: 100 });
    const refused = frames.find((f) => f.streamId === 'one-too-many');
    assert.equal(refused?.t, 'log-end');
    followers.stopAll('the channel dropped');
    assert.equal(followers.active, 0);
  });
});

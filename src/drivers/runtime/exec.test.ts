import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CommandError, commandLabel, runCommand } from './exec.js';

describe('runCommand', () => {
  it('returns stdout of an argv (no shell: metacharacters are plain arguments)', async () => {
    const { stdout } = await runCommand(['echo', '$HOME;', '`id`'], AbortSignal.timeout(5000));
    assert.equal(stdout, '$HOME; `id`\n');
  });

  it('rejects with a CommandError carrying exit code and stderr', async () => {
    await assert.rejects(
      runCommand(['sh', '-c', 'echo oops >&2; exit 3'], AbortSignal.timeout(5000)),
      (err: unknown) => {
        assert.ok(err instanceof CommandError);
        assert.equal(err.exitCode, 3);
        assert.equal(err.stderr, 'oops');
        assert.match(err.message, /^sh failed \(exit 3\): oops$/);
        return true;
      },
    );
  });

  it('kills the child when the signal aborts and rejects with the reason', async () => {
    const controller = new AbortController();
    const t0 = Date.now();
    setTimeout(() => controller.abort(new Error('enough')), 50);
    await assert.rejects(runCommand(['sleep', '10'], controller.signal), /enough/);
    assert.ok(Date.now() - t0 < 2000);
  });

  it('labels commands by program and verb, skipping --root DIR', () => {
    assert.equal(commandLabel(['/usr/bin/crun', '--root', '/run/x', 'state', 'one-1']), 'crun state');
    assert.equal(commandLabel(['runc', '--root', '/r', '--log', '/l', 'run', '-d']), 'runc run');
    assert.equal(commandLabel(['umount', '-l']), 'umount');
  });
});

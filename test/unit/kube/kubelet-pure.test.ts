// The rig kubelet's pure parts: which program an image stands for, the listen address a pod must
// use, `$(VAR)` expansion, and the phase a pod's containers add up to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bindToPodIp, containerProgram, imageRepository, ImageError } from '../../kube/kubelet/images.js';
import { expand } from '../../kube/kubelet/pod-environment.js';
import { podPhase, type ContainerView } from '../../kube/kubelet/pod-status.js';
import { exitOutcome, terminatedState } from '../../kube/kubelet/container-exit.js';

test('image names are normalised as a container runtime does', () => {
  const cases: Array<[string, string]> = [
    ['redis', 'docker.io/library/redis'],
    ['redis:7', 'docker.io/library/redis'],
    ['library/redis:7.2', 'docker.io/library/redis'],
    ['docker.io/library/redis@sha256:abc', 'docker.io/library/redis'],
    ['ghcr.io/cloudterm/cloudterm:0.1.0', 'ghcr.io/cloudterm/cloudterm'],
    ['localhost:5000/cloudterm', 'localhost:5000/cloudterm'],
  ];
  for (const [image, repository] of cases) assert.equal(imageRepository(image), repository, image);
});

test('the Redis image runs redis-server with the container\'s arguments; unknown images are not found', () => {
  assert.deepEqual(containerProgram({ name: 'r', image: 'redis:7', args: ['--port', '6380'] }, '/node').argv, ['/usr/bin/redis-server', '--port', '6380']);
  assert.deepEqual(containerProgram({ name: 'r', image: 'redis', command: ['redis-server'], args: ['--save', ''] }, '/node').argv, ['/usr/bin/redis-server', '--save', '']);
  assert.throws(() => containerProgram({ name: 'x', image: 'nginx:1' }, '/node'), (error: unknown) => error instanceof ImageError && /pull access denied for nginx:1/.test(error.message));
  assert.throws(() => containerProgram({ name: 'x', image: 'ghcr.io/cloudterm/cloudterm', command: ['sh'] }, '/node'), ImageError);
});

test('a wildcard or default listen address becomes the pod IP', () => {
  const program = (argv: string[]) => ({ kind: 'cloudterm' as const, argv: ['/node', '/bin.js', ...argv] });
  assert.deepEqual(bindToPodIp(program(['agent', '--listen', '0.0.0.0:7681', '--', 'sh']), '127.0.3.4', {}).slice(2), ['agent', '--listen', '127.0.3.4:7681', '--', 'sh']);
  assert.deepEqual(bindToPodIp(program(['agent', '--listen=:9000']), '127.0.3.4', {}).slice(2), ['agent', '--listen=127.0.3.4:9000']);
  assert.deepEqual(bindToPodIp(program(['agent', '--session-id', 'a']), '127.0.3.4', {}).slice(2), ['agent', '--listen', '127.0.3.4:7681', '--session-id', 'a']);
  assert.deepEqual(bindToPodIp(program(['agent', '--listen', '127.0.3.4:1']), '127.0.3.4', {}).slice(2), ['agent', '--listen', '127.0.3.4:1'], 'an explicit address is kept');
  const env = { CLOUDTERM_AGENT_LISTEN: '0.0.0.0:7681' };
  assert.deepEqual(bindToPodIp(program(['agent']), '127.0.3.4', env).slice(2), ['agent']);
  assert.equal(env.CLOUDTERM_AGENT_LISTEN, '127.0.3.4:7681');
  assert.deepEqual(bindToPodIp({ kind: 'redis', argv: ['/usr/bin/redis-server'] }, '127.0.3.4', {}), ['/usr/bin/redis-server', '--bind', '127.0.3.4']);
});

test('$(VAR) references expand as the kubelet expands them', () => {
  const vars = { POD_IP: '127.0.1.2', A: 'x' };
  assert.equal(expand('$(POD_IP):7681', vars), '127.0.1.2:7681');
  assert.equal(expand('$$(POD_IP)', vars), '$(POD_IP)', '$$ escapes');
  assert.equal(expand('$(MISSING)-$(A)', vars), '$(MISSING)-x', 'unknown references stay');
});

test('the pod phase follows its containers', () => {
  const view = (...containers: Array<Partial<ContainerView>>) => ({
    podIp: '127.0.1.1',
    hostIp: '127.0.0.1',
    startTime: '2026-01-01T00:00:00Z',
    containers: containers.map((c, index) => ({ name: `c${index}`, image: 'i', restartCount: 0, state: { kind: 'waiting', reason: 'ContainerCreating' }, ...c }) as ContainerView),
  });
  const done = (exitCode: number) => ({ state: { kind: 'terminated', exitCode, reason: exitCode ? 'Error' : 'Completed', startedAt: 'a', finishedAt: 'b' } as const });
  assert.equal(podPhase(view({})), 'Pending');
  assert.equal(podPhase(view({ state: { kind: 'running', startedAt: 'a', ready: false } })), 'Running');
  assert.equal(podPhase(view(done(0), done(0))), 'Succeeded');
  assert.equal(podPhase(view(done(0), done(3))), 'Failed');
  assert.equal(podPhase(view({ restartCount: 1, state: { kind: 'waiting', reason: 'CrashLoopBackOff' } })), 'Running', 'restarting is still Running');
});

test('a container\'s end is reported and followed as the kubelet does', () => {
  const facts = { startedAt: 'a', finishedAt: 'b', startFailure: () => 'mount: Not a directory', programStarted: true, terminating: false };
  assert.deepEqual(
    [terminatedState({ ...facts, code: 0 }), terminatedState({ ...facts, code: 3 }), terminatedState({ ...facts, code: undefined })].map((s) => [s.exitCode, s.reason]),
    [[0, 'Completed'], [3, 'Error'], [137, 'ContainerStatusUnknown']],
  );
  assert.equal(terminatedState({ ...facts, code: undefined, terminating: true }).reason, 'Error', 'killed at the end of its grace period');
  const never = terminatedState({ ...facts, code: undefined, programStarted: false });
  assert.deepEqual([never.exitCode, never.reason, never.message], [128, 'StartError', 'mount: Not a directory']);

  const failed = terminatedState({ ...facts, code: 1 });
  assert.equal(exitOutcome(failed, 'Never', false, 0, 1000, 'c').restart, false);
  assert.equal(exitOutcome(terminatedState({ ...facts, code: 0 }), 'OnFailure', false, 0, 1000, 'c').restart, false, 'OnFailure keeps a success');
  assert.equal(exitOutcome(failed, 'Always', true, 0, 1000, 'c').restart, false, 'nothing restarts while the pod is deleted');
  const backoffs = [0, 1, 2, 10].map((count) => {
    const outcome = exitOutcome(failed, 'OnFailure', false, count, 1000, 'c');
    return outcome.restart ? outcome.backoffMs : -1;
  });
  assert.deepEqual(backoffs, [1000, 2000, 4000, 60_000], 'doubling, capped at a minute');
});

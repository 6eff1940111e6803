// Bad TerminalSession specs and the causes of the 422 an API server (1.16+) answers for each: the
// unit tests check the structural-schema model against them, and
// test/integration/kube/terminalsession-crd.test.ts the real server. Causes are `field: message`,
// sorted (the server's order varies between requests).

export interface BadSpec {
  name: string;
  spec: unknown;
  causes: string[];
}

const pattern = (field: string, value: string, re: string) => `${field}: Invalid value: ${JSON.stringify(value)}: ${field} in body should match '${re}'`;
const DURATION = '^([0-9]+h)?([0-9]+m)?([0-9]+s)?$';

export const BAD_SPECS: BadSpec[] = [
  { name: 'no spec at all', spec: undefined, causes: ['spec: Required value'] },
  { name: 'no owner', spec: { image: 'ghcr.io/cloudterm/cloudterm:0.1.0' }, causes: ['spec.owner: Required value'] },
  {
    name: 'a number for a duration',
    spec: { owner: 'alice', idleTimeout: 30 },
    causes: ['spec.idleTimeout: Invalid value: "integer": spec.idleTimeout in body must be of type string: "integer"'],
  },
  {
    name: 'a string for the number of columns',
    spec: { owner: 'alice', size: { cols: 'wide' } },
    causes: ['spec.size.cols: Invalid value: "string": spec.size.cols in body must be of type integer: "string"'],
  },
  { name: 'a negative idle timeout', spec: { owner: 'alice', idleTimeout: '-5m' }, causes: [pattern('spec.idleTimeout', '-5m', DURATION)] },
  { name: 'a fractional lifetime', spec: { owner: 'alice', maxLifetime: '1.5h' }, causes: [pattern('spec.maxLifetime', '1.5h', DURATION)] },
  {
    name: 'an image name with spaces',
    spec: { owner: 'alice', image: 'ghcr.io/cloudterm/cloudterm:0.1.0 --privileged' },
    causes: [
      pattern(
        'spec.image',
        'ghcr.io/cloudterm/cloudterm:0.1.0 --privileged',
        '^[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$',
      ),
    ],
  },
  {
    name: 'a viewer role that does not exist',
    spec: { owner: 'alice', viewers: [{ user: 'bob', role: 'admin' }] },
    causes: ['spec.viewers.role: Unsupported value: "admin": supported values: "rw", "ro"'],
  },
  {
    name: 'a bad access role',
    spec: { owner: 'alice', access: { role: { kind: 'Group', name: 'View All' } } },
    causes: [
      'spec.access.role.kind: Unsupported value: "Group": supported values: "Role", "ClusterRole"',
      pattern('spec.access.role.name', 'View All', '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'),
    ],
  },
  { name: 'access without a role', spec: { owner: 'alice', access: {} }, causes: ['spec.access.role: Required value'] },
  {
    name: 'a terminal too narrow and too tall',
    spec: { owner: 'alice', size: { cols: 5, rows: 501 } },
    causes: [
      'spec.size.cols: Invalid value: 5: spec.size.cols in body should be greater than or equal to 20',
      'spec.size.rows: Invalid value: 501: spec.size.rows in body should be less than or equal to 500',
    ],
  },
  {
    name: 'bad env, working directory, command and resources',
    spec: { owner: 'alice', env: [{ name: '1BAD', value: 'x' }], workingDir: 'relative/dir', command: [], resources: { limits: { memory: 'lots' } } },
    causes: [
      pattern('spec.env.name', '1BAD', '^[-._a-zA-Z][-._a-zA-Z0-9]*$'),
      pattern('spec.workingDir', 'relative/dir', '^/'),
      'spec.command: Invalid value: 0: spec.command in body should have at least 1 items',
      pattern(
        'spec.resources.limits.memory',
        'lots',
        '^(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$',
      ),
    ],
  },
  {
    name: 'the same viewer twice, the same variable twice',
    spec: { owner: 'alice', viewers: [{ user: 'bob' }, { user: 'carol' }, { user: 'bob', role: 'rw' }], env: [{ name: 'A' }, { name: 'A', value: '1' }] },
    causes: ['spec.viewers[2]: Duplicate value: map[string]interface {}{"user":"bob"}', 'spec.env[1]: Duplicate value: map[string]interface {}{"name":"A"}'],
  },
  {
    name: 'a fractional number for a quantity',
    spec: { owner: 'alice', resources: { limits: { cpu: 0.5 } } },
    causes: [
      '<nil>: Invalid value: "": "spec.resources.limits.cpu" must validate at least one schema (anyOf)',
      'spec.resources.limits.cpu: Invalid value: "number": spec.resources.limits.cpu in body must be of type integer,string: "number"',
      'spec.resources.limits.cpu: Invalid value: "number": spec.resources.limits.cpu in body must be of type integer: "number"',
    ],
  },
  {
    name: 'an owner with surrounding spaces',
    spec: { owner: ' alice ' },
    causes: [pattern('spec.owner', ' alice ', '^[^\\s](.*[^\\s])?$')],
  },
  {
    name: 'a record flag that is not a boolean',
    spec: { owner: 'alice', record: 'yes' },
    causes: ['spec.record: Invalid value: "string": spec.record in body must be of type boolean: "string"'],
  },
].map((bad) => ({ ...bad, causes: [...bad.causes].sort() }));

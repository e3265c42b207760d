/**
 * docker-compose.yml, Dockerfile and .dockerignore, checked against the code.
 *
 * This project's CI cannot run Docker, so `docker compose up` is never exercised here; these
 * tests read the files and hold them to what the services actually read: SERVICE_NAMES,
 * SERVICE_PORTS and loadConfig (services/config.ts), the Pulsar version of
 * tools/pulsar/pom.xml and the Node version of package.json.
 */
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { parseDatabaseUrl } from '../db/connect.ts';
import { loadConfig, SERVICE_ENV, SERVICE_NAMES, SERVICE_NODE_ARGS, SERVICE_PORTS } from '../services/config.ts';
import { logLevelFrom } from '../services/logger.ts';
import { AEROALPES } from '../services/catalog.ts';
import { generated, renderServices } from '../tools/compose.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const readText = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

/** The compose services that are not one of SERVICE_NAMES. */
const INFRASTRUCTURE = ['pulsar', 'mysql'];
/** Run only with the `observability` profile (compose-observability.env). */
const OBSERVABILITY = ['jaeger', 'prometheus'];

// --- docker-compose.yml -------------------------------------------------------------------

type Port = string | number | { target: number; published?: string | number; host_ip?: string; protocol?: string };
type Volume = string | { type?: string; source?: string; target: string };

interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  environment?: Record<string, unknown> | string[];
  ports?: Port[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[]; disable?: boolean };
  volumes?: Volume[];
  profiles?: string[];
}

interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
  /** What the SERVICE_NAMES services share (`x-` keys are ignored by compose, free for anchors). */
  'x-service'?: ComposeService & Record<string, unknown>;
}

let parsed: ComposeFile | undefined;

/** docker compose resolves YAML merge keys (`<<: *service`); the yaml package does so only when asked. */
function composeFile(): ComposeFile {
  parsed ??= parse(readText('docker-compose.yml'), { merge: true }) as ComposeFile;
  if (!parsed?.services) throw new Error('docker-compose.yml has no services');
  return parsed;
}

function service(name: string): ComposeService {
  const found = composeFile().services[name];
  if (!found) throw new Error(`docker-compose.yml has no service "${name}"`);
  return found;
}

/** A service's environment as written (before interpolation); every value must be a string. */
function environmentOf(name: string): Record<string, string> {
  const raw = service(name).environment ?? {};
  const entries: [string, unknown][] = Array.isArray(raw)
    ? raw.map((line) => {
        const at = line.indexOf('=');
        return at < 0 ? [line, undefined] : [line.slice(0, at), line.slice(at + 1)];
      })
    : Object.entries(raw);
  for (const [key, value] of entries) {
    // Unquoted `3002` or `true` would reach compose as a YAML number or boolean.
    if (typeof value !== 'string') throw new Error(`${name}: environment ${key} must be a quoted string, got ${JSON.stringify(value)}`);
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

/**
 * Compose's interpolation: `$$` is a literal `$`; `${VAR:-default}` and `${VAR-default}` use
 * `vars` or the default; a variable without a default fails (the file must work without an
 * .env file).
 */
function interpolate(value: string, vars: Record<string, string | undefined> = {}): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (match, braced, op, arg, bare) => {
    if (match === '$$') return '$';
    const name = (braced ?? bare) as string;
    const set = vars[name];
    if (op === ':-' && set) return set;
    if (op === '-' && set !== undefined) return set;
    if (op === ':-' || op === '-') return arg as string;
    throw new Error(`\${${name}} in "${value}" has no default`);
  });
}

/** The environment a container gets, with `${VAR:-default}` expanded to the defaults. */
function containerEnvironment(name: string): Record<string, string> {
  return Object.fromEntries(Object.entries(environmentOf(name)).map(([key, value]) => [key, interpolate(value)]));
}

/**
 * Ports in short (`[ip:]published[-last]:target[/proto]`, `target`) or long syntax, with
 * `${VAR:-default}` expanded from `vars` (default: the defaults).
 */
function portsOf(name: string, vars: Record<string, string | undefined> = {}): { hostIp?: string; published?: number; publishedLast?: number; target: number }[] {
  return (service(name).ports ?? []).map((port) => {
    if (typeof port === 'object') return { hostIp: port.host_ip, published: port.published === undefined ? undefined : Number(port.published), target: Number(port.target) };
    const parts = interpolate(String(port), vars).replace(/\/(tcp|udp)$/, '').split(':');
    if (parts.some((part, i) => (i === parts.length - 3 ? false : !/^\d+(-\d+)?$/.test(part))) || parts.length > 3) throw new Error(`${name}: cannot read port "${port}"`);
    const target = Number(parts.at(-1));
    if (parts.length === 1) return { target };
    const [first, last] = parts.at(-2)!.split('-').map(Number);
    return { hostIp: parts.length === 3 ? parts[0] : undefined, published: first, publishedLast: last ?? first, target };
  });
}

/** `KEY=value` lines of an env file (compose's `--env-file`), comments skipped. */
function envFile(file: string): Record<string, string> {
  return Object.fromEntries(
    readText(file)
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

function commandOf(name: string): string[] {
  const command = service(name).command;
  if (command === undefined) return [];
  return Array.isArray(command) ? command : command.trim().split(/\s+/);
}

function healthcheckText(name: string): string {
  const test = service(name).healthcheck?.test;
  if (!test || service(name).healthcheck?.disable) throw new Error(`${name} has no healthcheck (depends_on service_healthy needs one)`);
  return Array.isArray(test) ? test.join(' ') : test;
}

function volumeTargets(name: string): { source?: string; target: string }[] {
  return (service(name).volumes ?? []).map((volume) => {
    if (typeof volume === 'object') return { source: volume.source, target: volume.target };
    const [source, target] = volume.split(':');
    return target === undefined ? { target: source! } : { source, target };
  });
}

// --- what loadConfig reads ------------------------------------------------------------------

/**
 * The variables services/config.ts reads, from its source: `env.NAME`, `int(env, 'NAME', …)`
 * and SERVICE_PORTS[*].env. A compose variable outside this list (a typo, or a setting
 * that does not exist) is silently ignored by the services, so the tests reject it.
 */
function scanConfigVariables(): Set<string> {
  const source = readText('services/config.ts');
  const names = new Set<string>();
  for (const match of source.matchAll(/\benv\.([A-Z][A-Z0-9_]*)\b/g)) names.add(match[1]!);
  for (const match of source.matchAll(/\bint\(\s*env\s*,\s*'([A-Z][A-Z0-9_]*)'/g)) names.add(match[1]!);
  for (const { env } of Object.values(SERVICE_PORTS)) names.add(env);
  return names;
}

/** The variables loadConfig looks up when it runs (every one is read on every call). */
function variablesLoadConfigReads(): Set<string> {
  const read = new Set<string>();
  const env = new Proxy({} as NodeJS.ProcessEnv, {
    get(target, key) {
      if (typeof key === 'string') read.add(key);
      return Reflect.get(target, key);
    },
  });
  loadConfig(env);
  return read;
}

const CONFIG_VARIABLES = scanConfigVariables();

/** What a service process reads besides loadConfig's: its logs' level and format (services/logger.ts), and where its traces go (services/tracing.ts). */
const LOGGER_VARIABLES = new Set(
  ['services/logger.ts', 'services/tracing.ts'].flatMap((file) => [...readText(file).matchAll(/\benv\.([A-Z][A-Z0-9_]*)\b/g)].map((match) => match[1]!)),
);

// --- Dockerfile -------------------------------------------------------------------------------

interface Instruction {
  keyword: string;
  args: string;
}

/** Instructions per stage (continuation lines joined, comments dropped). */
function dockerfileStages(): { from: string; name?: string; instructions: Instruction[] }[] {
  const lines = readText('Dockerfile')
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const stages: { from: string; name?: string; instructions: Instruction[] }[] = [];
  for (const line of lines) {
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const instruction = { keyword: keyword.toUpperCase(), args: args.trim() };
    if (instruction.keyword === 'FROM') {
      const [, image = '', name] = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args) ?? [];
      stages.push({ from: image, name, instructions: [] });
    } else if (stages.length === 0) {
      if (instruction.keyword !== 'ARG') throw new Error(`Dockerfile: ${instruction.keyword} before FROM`);
    } else {
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return stages;
}

/** The relative imports reachable from `entry`, as repository paths. */
function importClosure(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readText(file);
    for (const match of source.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)'(\.{1,2}\/[^']+)'/g)) {
      visit(path.posix.normalize(path.posix.join(path.posix.dirname(file), match[1]!)));
    }
  };
  visit(entry);
  return seen;
}

function versionOf(text: string): [number, number, number] {
  const [, major, minor, patch] = /(\d+)\.(\d+)\.(\d+)/.exec(text) ?? [];
  if (major === undefined) throw new Error(`no x.y.z version in "${text}"`);
  return [Number(major), Number(minor), Number(patch)];
}

const atLeast = (a: number[], b: number[]) => a[0]! !== b[0]! ? a[0]! > b[0]! : a[1]! !== b[1]! ? a[1]! > b[1]! : a[2]! >= b[2]!;

// --- the tests --------------------------------------------------------------------------------

describe('docker-compose.yml', () => {
  it('gives the SERVICE_NAMES services one shared definition (x-service) and environment', () => {
    const shared = composeFile()['x-service'];
    expect(shared, 'x-service').to.be.an('object');
    const { environment: sharedEnvironment, ...rest } = shared!;
    expect(Object.keys(rest)).to.include.members(['build', 'depends_on']);
    expect(sharedEnvironment, 'x-service environment').to.be.an('object').and.not.be.an('array');
    for (const name of SERVICE_NAMES) {
      const own = service(name) as Record<string, unknown>;
      expect(own, `${name}: unresolved merge key`).to.not.have.property('<<');
      for (const [key, value] of Object.entries(rest)) expect(own[key], `${name}.${key}`).to.deep.equal(value);
      expect(environmentOf(name), `${name}.environment`).to.deep.include(sharedEnvironment as Record<string, string>);
    }
  });

  it('should be what the service catalog makes it (npm run compose), and so should compose-replicas.env', () => {
    for (const [file, text] of Object.entries(generated())) {
      expect(readFileSync(file, 'utf8') === text, `${path.basename(file)} differs from what services/catalog.ts makes it: run npm run compose`).to.equal(true);
    }
  });

  it('should get a container for a service added to the catalog, on its port (npm run compose)', () => {
    const yaml = renderServices([...AEROALPES.services, { name: 'hotel', port: 3005 }]);
    expect(yaml).to.include('  hotel:\n    <<: *service\n    command: ["npx", "tsx", "services/service-main.ts", "hotel"]');
    expect(yaml).to.include('"127.0.0.1:${HOTEL_HOST_PORTS:-3005}:3005"');
    expect(yaml).to.include('HOTEL_PORT: "3005"');
  });

  it('has one service per SERVICE_NAMES entry, and no other besides pulsar, mysql and the observability profile', () => {
    const names = Object.keys(composeFile().services);
    expect(names).to.include.members([...INFRASTRUCTURE, ...OBSERVABILITY]);
    expect(names.filter((name) => ![...INFRASTRUCTURE, ...OBSERVABILITY].includes(name)).sort()).to.deep.equal([...SERVICE_NAMES].sort());
    for (const name of names) expect(service(name).profiles, name).to.deep.equal(OBSERVABILITY.includes(name) ? ['observability'] : undefined);
  });

  it('reads the variables loadConfig reads (the scan of services/config.ts agrees with a run of it)', () => {
    expect([...CONFIG_VARIABLES].sort(), 'the scan of services/config.ts (scanConfigVariables) differs from what loadConfig reads').to.deep.equal(
      [...variablesLoadConfigReads()].sort(),
    );
    expect([...CONFIG_VARIABLES]).to.include.members(['SAGA_TRANSPORT', 'PULSAR_URL', 'DATABASE_URL', 'HOST', 'NODE_ENV', 'SAGA_TEST_ENDPOINTS']);
  });

  it('declares every named volume it mounts', () => {
    const named = Object.keys(composeFile().services).flatMap((name) => volumeTargets(name).map((v) => v.source).filter((s): s is string => !!s && !/^[./~]/.test(s)));
    expect(named).to.not.be.empty;
    expect(Object.keys(composeFile().volumes ?? {})).to.include.members(named);
  });

  describe('pulsar', () => {
    it('runs the Pulsar version tools/pulsar/pom.xml pins', () => {
      const [, version] = /<pulsar\.version>\s*([^<\s]+)\s*<\/pulsar\.version>/.exec(readText('tools/pulsar/pom.xml')) ?? [];
      expect(version, '<pulsar.version> in tools/pulsar/pom.xml').to.match(/^\d+\.\d+\.\d+$/);
      expect(service('pulsar').image).to.equal(`apachepulsar/pulsar:${version}`);
    });

    it('runs the standalone broker without functions worker and stream storage', () => {
      expect(commandOf('pulsar')).to.deep.equal(['bin/pulsar', 'standalone', '--no-functions-worker', '--no-stream-storage']);
    });

    it('publishes the binary protocol (6650) and the web service (8080)', () => {
      const ports = portsOf('pulsar');
      expect(ports.map((p) => p.target).sort()).to.deep.equal([6650, 8080]);
      for (const port of ports) expect(port.published, `published port of ${port.target}`).to.equal(port.target);
    });

    it('has a healthcheck on the admin API (curl /admin/v2/clusters or pulsar-admin clusters list)', () => {
      const text = healthcheckText('pulsar');
      // With a shell `if …; then A; else B; fi`, each of A and B must probe the broker.
      const branches = /\bif\b/.test(text) ? text.split(/\b(?:then|elif|else)\b/).slice(1) : [text];
      const probe = /\bcurl\s[^;|&]*http:\/\/localhost:8080\/admin\/v2\/clusters\b|\bpulsar-admin\s+clusters\s+list\b/;
      for (const branch of branches) expect(branch.trim(), 'healthcheck branch').to.match(probe);
    });

    it('keeps its data in a volume', () => {
      expect(volumeTargets('pulsar').map((v) => v.target)).to.include('/pulsar/data');
    });
  });

  describe('mysql', () => {
    it('runs a pinned MySQL 8.0 image', () => {
      expect(service('mysql').image).to.match(/^mysql:8\.0\.\d+$/);
    });

    it('creates the database and takes the root password from MYSQL_ROOT_PASSWORD, with a default', () => {
      const env = environmentOf('mysql');
      expect(env.MYSQL_DATABASE).to.be.a('string').and.not.be.empty;
      expect(env.MYSQL_ROOT_PASSWORD).to.match(/^\$\{MYSQL_ROOT_PASSWORD:-[^}]+\}$/);
    });

    it('has a mysqladmin ping healthcheck', () => {
      expect(healthcheckText('mysql')).to.match(/mysqladmin ping/);
    });

    it('keeps its data in a volume', () => {
      expect(volumeTargets('mysql').map((v) => v.target)).to.include('/var/lib/mysql');
    });
  });

  for (const name of SERVICE_NAMES) {
    describe(`${name} (SERVICE_NAMES)`, () => {
      const { env: portVariable, port } = SERVICE_PORTS[name];

      it('is built from the Dockerfile at the repository root', () => {
        const build = service(name).build;
        const context = typeof build === 'string' ? build : build?.context;
        expect(context, 'build context').to.be.a('string');
        expect(path.resolve(ROOT, context!)).to.equal(path.resolve(ROOT));
        const dockerfile = typeof build === 'object' && build.dockerfile ? build.dockerfile : 'Dockerfile';
        expect(existsSync(path.join(ROOT, context!, dockerfile)), `${dockerfile} exists`).to.equal(true);
      });

      it(`runs services/service-main.ts ${name}`, () => {
        const command = commandOf(name);
        expect(command.slice(0, 2), 'runner').to.deep.equal(['npx', 'tsx']);
        expect(command.slice(2)).to.deep.equal(['services/service-main.ts', name]);
        expect(existsSync(path.join(ROOT, 'services/service-main.ts'))).to.equal(true);
      });

      it(`publishes its default port ${port} and sets ${portVariable} to it`, () => {
        expect(portsOf(name)).to.have.lengthOf(1);
        const [mapping] = portsOf(name);
        expect(mapping!.published, 'published (host) port').to.equal(port);
        expect(mapping!.target, 'container port').to.equal(port);
        expect(environmentOf(name)[portVariable]).to.equal(String(port));
      });

      it('sets only variables loadConfig or the logger reads', () => {
        const unknown = Object.keys(environmentOf(name)).filter((key) => !CONFIG_VARIABLES.has(key) && !LOGGER_VARIABLES.has(key));
        expect(unknown, `variables services/config.ts and services/logger.ts never read (known: ${[...CONFIG_VARIABLES, ...LOGGER_VARIABLES].join(', ')})`).to.deep.equal([]);
      });

      it(`logs at info unless ${name.toUpperCase()}_LOG_LEVEL says otherwise`, () => {
        expect(LOGGER_VARIABLES).to.include('LOG_LEVEL');
        expect(logLevelFrom(containerEnvironment(name))).to.equal('info');
        expect(interpolate(environmentOf(name).LOG_LEVEL ?? '', { [`${name.toUpperCase()}_LOG_LEVEL`]: 'debug' })).to.equal('debug');
      });

      it('gives loadConfig a configuration for the compose network', () => {
        const config = loadConfig(containerEnvironment(name));
        expect(config.transport).to.equal('pulsar');
        expect(config.host, 'HOST (all interfaces inside a container)').to.equal('0.0.0.0');
        expect(config.ports[name], 'the port it listens on').to.equal(portsOf(name)[0]?.target);
        expect(config.testEndpoints, 'SAGA_TEST_ENDPOINTS').to.equal(true);

        const pulsar = new URL(config.pulsar.url);
        expect(pulsar.protocol).to.equal('http:');
        expect(pulsar.hostname, 'PULSAR_URL host').to.equal('pulsar');
        expect(pulsar.port, 'PULSAR_URL port').to.equal('8080');
        expect(portsOf('pulsar').map((p) => p.target)).to.include(8080);

        const database = parseDatabaseUrl(config.databaseUrl);
        expect(database.dialect).to.equal('mysql');
        const url = new URL(config.databaseUrl);
        const mysqlEnv = containerEnvironment('mysql');
        expect(url.hostname, 'DATABASE_URL host').to.equal('mysql');
        expect(url.port || '3306', 'DATABASE_URL port').to.equal('3306');
        expect(database.database, 'DATABASE_URL database').to.equal(mysqlEnv.MYSQL_DATABASE);
        expect(decodeURIComponent(url.username), 'DATABASE_URL user').to.equal('root');
        expect(decodeURIComponent(url.password), 'DATABASE_URL password').to.equal(mysqlEnv.MYSQL_ROOT_PASSWORD);
      });

      it('follows MYSQL_ROOT_PASSWORD like the mysql service does', () => {
        const vars = { MYSQL_ROOT_PASSWORD: 'other-secret' };
        const url = new URL(interpolate(environmentOf(name).DATABASE_URL ?? '', vars));
        expect(url.password).to.equal(interpolate(environmentOf('mysql').MYSQL_ROOT_PASSWORD ?? '', vars));
      });

      it('starts once pulsar and mysql are healthy', () => {
        const dependsOn = service(name).depends_on;
        expect(dependsOn, 'depends_on in the long form, with conditions').to.be.an('object').and.not.be.an('array');
        const conditions = dependsOn as Record<string, { condition?: string }>;
        for (const dependency of INFRASTRUCTURE) expect(conditions[dependency]?.condition, `${dependency} condition`).to.equal('service_healthy');
      });
    });
  }
});

describe('Dockerfile', () => {
  let stages: ReturnType<typeof dockerfileStages> = [];
  let final: (typeof stages)[number];
  before(() => {
    stages = dockerfileStages();
    final = stages.at(-1)!;
    if (!final) throw new Error('Dockerfile has no FROM');
  });
  const all = (keyword: string, instructions = stages.flatMap((s) => s.instructions)) => instructions.filter((i) => i.keyword === keyword).map((i) => i.args);

  it('should run its services with the node options and environment every service process gets (SERVICE_NODE_ARGS, SERVICE_ENV), as npm run service does', () => {
    const env = all('ENV', final.instructions).join(' ');
    expect(env).to.include(`NODE_OPTIONS="${SERVICE_NODE_ARGS.join(' ')}"`);
    for (const [name, value] of Object.entries(SERVICE_ENV)) expect(env).to.include(`${name}=${value}`);
    const script = (JSON.parse(readText('package.json')) as { scripts: Record<string, string> }).scripts.service;
    expect(script).to.include(`node ${SERVICE_NODE_ARGS.join(' ')} --import tsx`);
    for (const [name, value] of Object.entries(SERVICE_ENV)) expect(script).to.include(`${name}=${value}`);
  });

  it('builds every stage on an exact Node 20 image that satisfies package.json engines.node', () => {
    const stageNames = new Set(stages.map((s) => s.name?.toLowerCase()).filter(Boolean));
    const images = stages.map((s) => s.from).filter((from) => !stageNames.has(from.toLowerCase()));
    expect(images).to.not.be.empty;
    const engines = (JSON.parse(readText('package.json')) as { engines: { node: string } }).engines.node;
    for (const image of images) {
      expect(image).to.match(/^node:20\.\d+\.\d+-[a-z0-9.-]+(@sha256:[0-9a-f]{64})?$/);
      expect(atLeast(versionOf(image), versionOf(engines)), `${image} satisfies ${engines}`).to.equal(true);
    }
  });

  it('installs the dependencies with npm ci, from the lockfile', () => {
    const runs = all('RUN');
    expect(runs.filter((run) => /\bnpm (install|i|add)\b/.test(run)), 'npm install').to.deep.equal([]);
    const stage = stages.find((s) => all('RUN', s.instructions).some((run) => /^npm ci\b/.test(run)));
    expect(stage, 'a RUN npm ci').to.not.equal(undefined);
    const copies = all('COPY', stage!.instructions.slice(0, stage!.instructions.findIndex((i) => i.keyword === 'RUN' && /^npm ci\b/.test(i.args))));
    expect(copies.join(' '), 'package-lock.json copied before npm ci').to.include('package-lock.json');
  });

  it('has the build tools for sqlite3 where npm ci runs', () => {
    const stage = stages.find((s) => all('RUN', s.instructions).some((run) => /^npm ci\b/.test(run)))!;
    const install = all('RUN', stage.instructions).join(' ');
    for (const tool of ['python3', 'make', 'g++']) expect(install, tool).to.match(new RegExp(`apt-get install[^&]*\\s${tool.replace(/\+/g, '\\+')}(\\s|$)`));
  });

  it('runs as a non-root user with NODE_ENV=production', () => {
    const user = all('USER', final.instructions).at(-1);
    expect(user, 'USER in the final stage').to.be.a('string');
    expect(user!.split(':')[0]).to.not.match(/^(root|0)$/);
    expect(all('ENV', final.instructions).join(' ')).to.match(/\bNODE_ENV[= ]production\b/);
  });

  it('lets npx pass SIGTERM on to the service (npm script shell bash, which execs tsx)', () => {
    expect(all('ENV', final.instructions).join(' ')).to.match(/\bNPM_CONFIG_SCRIPT_SHELL[= ]\/bin\/bash\b/);
  });

  it('runs the coordinator by default', () => {
    const cmd = all('CMD', final.instructions).at(-1);
    expect(JSON.parse(cmd ?? 'null')).to.deep.equal(['npx', 'tsx', 'services/service-main.ts', 'coordinator']);
  });

  it('copies every folder services/service-main.ts imports from', () => {
    const folders = [...new Set([...importClosure('services/service-main.ts')].map((file) => file.split('/')[0]!))].sort();
    expect(folders).to.include.members(['services', 'db', 'runtime', 'machines']);
    const copied = all('COPY', final.instructions)
      .filter((args) => !args.startsWith('--from'))
      .flatMap((args) => args.replace(/--\S+/g, '').trim().split(/\s+/).slice(0, -1))
      .map((source) => source.replace(/^\.\//, '').replace(/\/$/, ''));
    const missing = copied.includes('.') ? [] : folders.filter((folder) => !copied.includes(folder));
    expect(missing, 'source folders not copied into the image').to.deep.equal([]);
    const ignored = readText('.dockerignore').split(/\r?\n/).map((line) => line.trim().replace(/^\//, '').replace(/\/$/, ''));
    expect(folders.filter((folder) => ignored.includes(folder)), 'source folders in .dockerignore').to.deep.equal([]);
  });
});

describe('.dockerignore', () => {
  it('keeps the host node_modules, local data, Pulsar state and .git out of the build context', () => {
    const lines = readText('.dockerignore').split(/\r?\n/).map((line) => line.trim().replace(/^\//, '').replace(/\/$/, ''));
    expect(lines).to.include.members(['node_modules', 'data', '.pulsar', '.git', 'test-artifacts']);
  });
});

describe('docker-compose.yml with compose-replicas.env (replicas)', () => {
  const vars = envFile('compose-replicas.env');

  it('runs two replicas of every service, counted by <NAME>_REPLICAS', () => {
    for (const name of SERVICE_NAMES) {
      const replicas = (service(name) as ComposeService & { deploy?: { replicas?: unknown } }).deploy?.replicas;
      expect(interpolate(String(replicas), {}), `${name} replicas by default`).to.equal('1');
      expect(interpolate(String(replicas), vars), `${name} replicas with the env file`).to.equal('2');
    }
  });

  it("gives each service's replicas a host port range of its own, large enough, so no two containers ask for one port", () => {
    const ranges = SERVICE_NAMES.map((name) => {
      const [mapping] = portsOf(name, vars);
      expect(mapping!.hostIp, `${name} bound to localhost`).to.equal('127.0.0.1');
      expect(mapping!.target, `${name} container port`).to.equal(SERVICE_PORTS[name].port);
      expect(mapping!.publishedLast! - mapping!.published! + 1, `${name} range holds its replicas`).to.be.at.least(Number(vars[`${name.toUpperCase()}_REPLICAS`]));
      return { name, from: mapping!.published!, to: mapping!.publishedLast! };
    });
    const defaults = SERVICE_NAMES.map((name) => SERVICE_PORTS[name].port);
    for (const a of ranges) {
      for (const b of ranges) if (a !== b) expect(a.to < b.from || b.to < a.from, `${a.name} and ${b.name} ranges overlap`).to.equal(true);
      expect(defaults.filter((port) => port >= a.from && port <= a.to), `${a.name} range clear of the single-replica ports`).to.deep.equal([]);
    }
  });

  it('sets PULSAR_PARTITIONS for every service, which loadConfig reads', () => {
    for (const name of SERVICE_NAMES) {
      const env = Object.fromEntries(Object.entries(environmentOf(name)).map(([key, value]) => [key, interpolate(value, vars)]));
      expect(loadConfig(env).pulsar.partitions, name).to.equal(2);
    }
  });
});

describe('docker-compose.yml with compose-observability.env (metrics and traces)', () => {
  const vars = envFile('compose-observability.env');

  it('should turn the observability profile on and send every service\'s traces to Jaeger\'s OTLP/HTTP port', () => {
    expect(vars.COMPOSE_PROFILES).to.equal('observability');
    expect(new URL(vars.OTEL_EXPORTER_OTLP_ENDPOINT!)).to.include({ hostname: 'jaeger', port: '4318' });
    for (const name of SERVICE_NAMES) {
      expect(interpolate(environmentOf(name).OTEL_EXPORTER_OTLP_ENDPOINT ?? '', vars), name).to.equal(vars.OTEL_EXPORTER_OTLP_ENDPOINT);
      // Without the file: no endpoint, so nothing is exported.
      expect(containerEnvironment(name).OTEL_EXPORTER_OTLP_ENDPOINT, name).to.equal('');
    }
  });

  it("should link /ui's trace ids to Jaeger's UI, which it publishes on localhost", () => {
    const env = Object.fromEntries(Object.entries(environmentOf('coordinator')).map(([k, v]) => [k, interpolate(v, vars)]));
    const { traceUrl } = loadConfig(env);
    expect(traceUrl).to.equal('http://localhost:16686/trace/{traceId}');
    expect(portsOf('jaeger')).to.deep.include({ hostIp: '127.0.0.1', published: 16686, publishedLast: 16686, target: 16686 });
    expect(service('jaeger').image).to.match(/^jaegertracing\/jaeger:\d+\.\d+\.\d+$/);
  });

  it("should let Prometheus scrape every service's /metrics on its port, every replica, with the file npm run compose writes", () => {
    expect(service('prometheus').image).to.match(/^prom\/prometheus:v\d+\.\d+\.\d+$/);
    expect(volumeTargets('prometheus')).to.deep.include({ source: './observability/prometheus.yml', target: '/etc/prometheus/prometheus.yml' });
    const config = parse(readText('observability/prometheus.yml')) as { scrape_configs: { job_name: string; metrics_path?: string; dns_sd_configs: { names: string[]; type: string; port: number }[] }[] };
    expect(config.scrape_configs.map((job) => job.job_name)).to.deep.equal([...SERVICE_NAMES]);
    for (const job of config.scrape_configs) {
      expect(job.metrics_path ?? '/metrics').to.equal('/metrics');
      expect(job.dns_sd_configs).to.deep.equal([{ names: [job.job_name], type: 'A', port: SERVICE_PORTS[job.job_name as keyof typeof SERVICE_PORTS].port, refresh_interval: '15s' }]);
    }
  });
});

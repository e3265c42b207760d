import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AEROALPES, type ServiceEntry } from '../services/catalog.ts';

/**
 * `npm run compose`: writes the parts of `docker-compose.yml` and `compose-replicas.env` that
 * follow from the service catalog (`services/catalog.ts`): one container per service on its
 * port and log level (`<NAME>_LOG_LEVEL`, default info), and each service's replicas and host port range. `--check` changes nothing and exits 1
 * when a file is not what the catalog makes it (test/compose.test.ts checks the same).
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const COMPOSE_FILE = path.join(ROOT, 'docker-compose.yml');
export const REPLICAS_FILE = path.join(ROOT, 'compose-replicas.env');
export const PROMETHEUS_FILE = path.join(ROOT, 'observability', 'prometheus.yml');
const BEGIN = '  # --- the services: written by `npm run compose` from services/catalog.ts ---';
const END = '  # --- end of the services ---';
const ENV_BEGIN = '# --- each service: written by `npm run compose` from services/catalog.ts ---';

/** The first host port of the replicas' ranges, and how many ports each service's range holds. */
const REPLICA_HOST_PORTS = { first: 3100, each: 10 };

const upper = (name: string) => name.toUpperCase();

/** The compose services of the catalog's services. */
export function renderServices(services: readonly ServiceEntry[]): string {
  const blocks = services.map(({ name, port }) =>
    [
      `  ${name}:`,
      '    <<: *service',
      `    command: ["npx", "tsx", "services/service-main.ts", "${name}"]`,
      '    deploy:',
      `      replicas: \${${upper(name)}_REPLICAS:-1}`,
      '    ports:',
      `      - "127.0.0.1:\${${upper(name)}_HOST_PORTS:-${port}}:${port}"`,
      '    environment:',
      '      <<: *service-env',
      `      ${upper(name)}_PORT: "${port}"`,
      // One service's log level can be raised alone: PAGOS_LOG_LEVEL=debug docker compose up.
      `      LOG_LEVEL: "\${${upper(name)}_LOG_LEVEL:-info}"`,
    ].join('\n'),
  );
  return [BEGIN, blocks.join('\n\n'), END].join('\n');
}

/** Two replicas of every service, each on a host port range of its own. */
export function renderReplicaEnv(services: readonly ServiceEntry[]): string {
  const lines = services.flatMap(({ name }, i) => {
    const first = REPLICA_HOST_PORTS.first + i * REPLICA_HOST_PORTS.each;
    return [`${upper(name)}_REPLICAS=2`, `${upper(name)}_HOST_PORTS=${first}-${first + REPLICA_HOST_PORTS.each - 1}`];
  });
  return [ENV_BEGIN, ...lines].join('\n');
}

/**
 * Prometheus' configuration for the compose network: a job per service that scrapes
 * `/metrics` of every replica (DNS gives one A record per container).
 */
export function renderPrometheus(services: readonly ServiceEntry[]): string {
  const jobs = services.map(({ name, port }) =>
    [`  - job_name: ${name}`, '    dns_sd_configs:', `      - names: [${name}]`, '        type: A', `        port: ${port}`, '        refresh_interval: 15s'].join('\n'),
  );
  return ['# Written by `npm run compose` from services/catalog.ts (docker compose --env-file compose-observability.env up).', 'global:', '  scrape_interval: 5s', 'scrape_configs:', ...jobs, ''].join('\n');
}

/** `text` with the generated part put in place of the one it has (from `begin` to `end`, or to the end of the file). */
function replaceSection(text: string, begin: string, end: string | null, generated: string, file: string): string {
  const from = text.indexOf(begin);
  if (from < 0) throw new Error(`${file}: the line "${begin.trim()}" is missing`);
  const to = end === null ? text.length : text.indexOf(end, from) + end.length;
  if (to < from) throw new Error(`${file}: the line "${end}" is missing`);
  return text.slice(0, from) + generated + (end === null ? '\n' : '') + text.slice(to);
}

/** The files as the catalog makes them. */
export function generated(services: readonly ServiceEntry[] = AEROALPES.services): Record<string, string> {
  return {
    [COMPOSE_FILE]: replaceSection(fs.readFileSync(COMPOSE_FILE, 'utf8'), BEGIN, END, renderServices(services), 'docker-compose.yml'),
    [REPLICAS_FILE]: replaceSection(fs.readFileSync(REPLICAS_FILE, 'utf8'), ENV_BEGIN, null, renderReplicaEnv(services), 'compose-replicas.env'),
    [PROMETHEUS_FILE]: renderPrometheus(services),
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const [file, text] of Object.entries(generated())) {
    if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === text) continue;
    stale++;
    if (check) console.error(`${path.relative(ROOT, file)} is not what services/catalog.ts makes it: run npm run compose`);
    else fs.writeFileSync(file, text), console.log(`wrote ${path.relative(ROOT, file)}`);
  }
  if (check && stale > 0) process.exit(1);
}

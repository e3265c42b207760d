import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { stringify } from 'yaml';
import { reservaSteps } from '../machines/reserva.ts';
import type { SagaStep } from '../machines/steps.ts';
import type { JsonSchema } from '../machines/messages.ts';
import type { SagaDefinition } from '../runtime/registry.ts';
import { AEROALPES, type Application, type SagaEntry } from '../services/catalog.ts';
import { SagaStarter } from '../services/coordinator/saga-starter.ts';
import type { ParticipantDeps } from '../services/participants/participant.ts';

/**
 * `npm run asyncapi [-- --out <dir>]`: the AsyncAPI 3.0.0 document of the system's messages,
 * as YAML on standard output, or as `<dir>/asyncapi.yaml`.
 *
 * Everything in it comes from the definitions the processes run:
 * - channels: every topic of the message catalog (`application.messages`), addressed by its name;
 * - messages: every type, its payload the JSON Schema of its envelope and data, from its zod
 *   schema (`MessageCatalog.jsonSchemaOf`);
 * - operations, one per service, action and message (`pagos.receive.PagarReserva`), with the
 *   styles it happens in (tags and `x-styles`) and what in the service does it (`x-by`):
 *   - a saga (`application.sagas`) receives what its definition `consumes` and sends its
 *     `commands`, in its style, in the service that runs it (`runBy`);
 *   - a participant receives the messages it acts on, of the topics it subscribes to, in both
 *     styles, and answers a command with the events its step declares (`steps`: success and
 *     failure of a step's command, confirmation and failure of a compensation's);
 *   - the two messages no definition lists: vuelos' `POST /reservas` sends `IniciarReserva`
 *     (services/process.ts), which the coordinator's starter receives in orchestration
 *     (`SagaStarter`; in choreography vuelos' own part consumes it, from its definition).
 *
 * @example
 * npm run asyncapi                      # YAML on standard output
 * npm run asyncapi -- --out build/docs  # build/docs/asyncapi.yaml
 */

const root = fileURLToPath(new URL('..', import.meta.url));

type Style = SagaEntry['style'];
const STYLES: readonly Style[] = ['orchestration', 'choreography'];

/** One thing a service does with one message type. */
export interface Role {
  service: string;
  action: 'send' | 'receive';
  type: string;
  styles: Style[];
  /** What in the service does it: `saga reserva v1`, `participant pagos`, `POST /reservas`, `SagaStarter`. */
  by: string[];
}

export interface AsyncApiOptions {
  /** Its services, sagas and messages (default: AeroAlpes, services/catalog.ts). */
  application?: Application;
  /** The steps the sagas are built from: which events answer which command (default: the reservation's, machines/reserva.ts). */
  steps?: readonly SagaStep<never>[];
  /** `title`, `version` and `description` of the document's info (default: package.json's name, version and description). */
  info?: { title: string; version: string; description?: string };
}

type Json = { [key: string]: unknown };

/** The parts of the document a reader of it looks into; the rest is plain JSON. */
export interface AsyncApiDocument extends Json {
  asyncapi: '3.0.0';
  info: { title: string; version: string; [key: string]: unknown };
  channels: Record<string, Json & { address: string; messages: Record<string, { $ref: string }> }>;
  operations: Record<string, Json & { action: 'send' | 'receive'; channel: { $ref: string }; 'x-service': string; 'x-styles': Style[]; 'x-by': string[] }>;
  components: { messages: Record<string, Json>; schemas: Record<string, JsonSchema>; [key: string]: unknown };
}

/** The events that answer each command: a step's success and failure, a compensation's confirmation and failure. */
export function answersOf(steps: readonly SagaStep<never>[]): Map<string, string[]> {
  const answers = new Map<string, string[]>();
  const add = (command: string, events: string[]) => answers.set(command, [...new Set([...(answers.get(command) ?? []), ...events])]);
  for (const step of steps) {
    add(step.command.type, [step.success.event, step.failure.event]);
    add(step.compensation.command.type, [step.compensation.confirmedBy, step.compensation.failedBy]);
  }
  return answers;
}

/** Who sends and who receives each message type, by service, from the application's definitions (see the module's doc). */
export function rolesOf(application: Application = AEROALPES, steps: readonly SagaStep<never>[] = reservaSteps.steps as readonly SagaStep<never>[]): Role[] {
  const roles = new Map<string, Role>();
  const add = (service: string, action: Role['action'], type: string, styles: readonly Style[], by: string) => {
    const key = `${service}.${action}.${type}`;
    const role = roles.get(key) ?? { service, action, type, styles: [], by: [] };
    role.styles = STYLES.filter((s) => role.styles.includes(s) || styles.includes(s));
    if (!role.by.includes(by)) role.by.push(by);
    roles.set(key, role);
  };
  const known = (type: string) => application.messages.has(type);

  for (const entry of application.sagas) {
    const saga = entry.saga as unknown as SagaDefinition;
    const by = `saga ${saga.type} v${saga.version}`;
    for (const type of Object.keys(saga.consumes)) add(entry.runBy, 'receive', type, [entry.style], by);
    for (const type of Object.keys(saga.commands)) add(entry.runBy, 'send', type, [entry.style], by);
  }

  const answers = answersOf(steps);
  for (const service of application.services) {
    if (!service.participant) continue;
    // The participant as its process creates it (the constructor only keeps its dependencies):
    // the topics it subscribes to, and of their messages those it acts on.
    const participant = service.participant.create({ messages: application.messages } as ParticipantDeps);
    const { handles } = participant;
    const by = `participant ${participant.name}`;
    for (const type of application.messages.types()) {
      if (!participant.topics.includes(application.messages.topicOf(type))) continue;
      if (!handles.includes(type)) continue;
      add(service.name, 'receive', type, STYLES, by);
      for (const answer of answers.get(type) ?? []) if (known(answer)) add(service.name, 'send', answer, STYLES, by);
    }
  }

  // Not in a definition: vuelos' HTTP entry asks for a saga, and the orchestrated style's starter takes it.
  if (known('IniciarReserva') && application.services.some((s) => s.name === 'vuelos')) {
    add('vuelos', 'send', 'IniciarReserva', STYLES, 'POST /reservas');
    if (application.services.some((s) => s.name === 'coordinator')) add('coordinator', 'receive', 'IniciarReserva', ['orchestration'], `SagaStarter (subscription ${SagaStarter.subscription})`);
  }

  const serviceOrder = application.services.map((s) => s.name);
  const typeOrder = application.messages.types();
  return [...roles.values()].sort(
    (a, b) => serviceOrder.indexOf(a.service) - serviceOrder.indexOf(b.service) || (a.action === b.action ? 0 : a.action === 'send' ? -1 : 1) || typeOrder.indexOf(a.type) - typeOrder.indexOf(b.type),
  );
}

function packageInfo(): { title: string; version: string; description?: string } {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { name: string; version: string; description?: string };
  return { title: pkg.name, version: pkg.version, ...(pkg.description ? { description: pkg.description } : {}) };
}

/** A JSON Schema as an AsyncAPI Schema Object (a superset of draft-07): without its `$schema`. */
function asyncApiSchema(schema: JsonSchema): JsonSchema {
  const { $schema: _, ...rest } = schema;
  return rest;
}

/**
 * The AsyncAPI 3.0.0 document of an application's messages, as a plain object.
 *
 * @example
 * const doc = asyncApiDocument();
 * Object.keys(doc.channels); // ['comando-iniciar-reserva', 'comando-crear-reserva', …]
 */
export function asyncApiDocument(options: AsyncApiOptions = {}): AsyncApiDocument {
  const application: Application = options.application ?? AEROALPES;
  const { messages } = application;
  const info = options.info ?? packageInfo();
  const types = messages.types();

  const channels: AsyncApiDocument['channels'] = {};
  const componentMessages: Record<string, Json> = {};
  const schemas: Record<string, JsonSchema> = {};
  for (const type of types) {
    const topic = messages.topicOf(type);
    const kind = messages.isCommand(type) ? 'command' : 'event';
    schemas[type] = asyncApiSchema(messages.jsonSchemaOf(type));
    componentMessages[type] = {
      name: type,
      title: type,
      summary: `${kind === 'command' ? 'Command' : 'Event'} ${type}, on topic ${topic}, keyed by data.id_correlacion.`,
      contentType: 'application/json',
      correlationId: { $ref: '#/components/correlationIds/saga' },
      tags: [{ name: kind }],
      'x-kind': kind,
      payload: { $ref: `#/components/schemas/${type}` },
    };
    const channel = (channels[topic] ??= {
      address: topic,
      title: topic,
      description: '',
      messages: {},
      bindings: { pulsar: { namespace: 'default', persistence: 'persistent', bindingVersion: '0.1.0' } },
    });
    channel.messages[type] = { $ref: `#/components/messages/${type}` };
  }
  for (const channel of Object.values(channels)) {
    const names = Object.keys(channel.messages);
    const commands = names.filter((t) => messages.isCommand(t));
    channel.description = commands.length === names.length ? `The command${names.length > 1 ? 's' : ''} ${names.join(', ')}.` : `Events: ${names.join(', ')}.`;
  }

  const operations: AsyncApiDocument['operations'] = {};
  for (const role of rolesOf(application, options.steps)) {
    const topic = messages.topicOf(role.type);
    operations[`${role.service}.${role.action}.${role.type}`] = {
      action: role.action,
      channel: { $ref: `#/channels/${topic}` },
      messages: [{ $ref: `#/channels/${topic}/messages/${role.type}` }],
      summary: `${role.service} ${role.action === 'send' ? 'sends' : 'receives'} ${role.type} (${role.styles.join(', ')}).`,
      tags: role.styles.map((name) => ({ name })),
      'x-service': role.service,
      'x-styles': role.styles,
      'x-by': role.by,
    };
  }

  return {
    asyncapi: '3.0.0',
    info: {
      title: info.title,
      version: info.version,
      description: [
        info.description ?? '',
        'Generated by `npm run asyncapi` from the message catalog (machines/messages.ts), the service catalog (services/catalog.ts) and the saga definitions: do not edit, generate it again.',
        'Each message is a CloudEvents-style envelope whose `data` is checked against the schema of its `type`; every topic is keyed by `data.id_correlacion`.',
        'Operations are per service (`x-service`), tagged with the saga styles they happen in (`x-styles`: orchestration, the coordinator runs the saga; choreography, each service runs its own part).',
      ].filter(Boolean).join('\n\n'),
      tags: STYLES.map((name) => ({ name, description: name === 'orchestration' ? 'SAGA_STYLE=orchestration: the coordinator runs the saga.' : 'SAGA_STYLE=choreography: each service runs its part; the coordinator only tracks.' })),
    },
    defaultContentType: 'application/json',
    servers: {
      pulsar: {
        host: '127.0.0.1:6650',
        protocol: 'pulsar',
        description: 'The Apache Pulsar broker (PULSAR_URL; its WebSocket API on the web service port, 8080, is the other driver). Topics live in PULSAR_TENANT/PULSAR_NAMESPACE, public/default by default.',
        bindings: { pulsar: { tenant: 'public', bindingVersion: '0.1.0' } },
      },
    },
    channels,
    operations,
    components: {
      messages: componentMessages,
      schemas,
      correlationIds: { saga: { description: 'The saga instance a message belongs to (also the broker message key).', location: '$message.payload#/data/id_correlacion' } },
    },
    'x-services': application.services.map((service) => ({
      name: service.name,
      port: service.port,
      ...(service.participant ? { participant: service.participant.name, service_name: service.participant.serviceName } : {}),
      sagas: application.sagas.filter((entry) => entry.runBy === service.name).map((entry) => ({ type: entry.saga.type, version: entry.saga.version, style: entry.style })),
    })),
  };
}

/** The document as YAML. */
export function renderAsyncApi(options: AsyncApiOptions = {}): string {
  return stringify(asyncApiDocument(options), { lineWidth: 0, aliasDuplicateObjects: false });
}

const USAGE = `usage: npm run asyncapi [-- --out <dir>]
  writes the AsyncAPI 3.0.0 document of every topic, message and service
  --out: folder to write asyncapi.yaml into (default: standard output)`;

/** The CLI; resolves to the exit code. */
export function main(argv: readonly string[], out: (text: string) => void = (text) => process.stdout.write(text), err: (line: string) => void = console.error): number {
  let values: { out?: string; help?: boolean };
  try {
    ({ values } = parseArgs({ args: [...argv], options: { out: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }));
  } catch (error) {
    err(`${(error as Error).message}\n${USAGE}`);
    return 1;
  }
  if (values.help) {
    out(`${USAGE}\n`);
    return 0;
  }
  const outDir = values.out === undefined ? undefined : path.resolve(values.out);
  const yaml = renderAsyncApi();
  if (!outDir) {
    out(yaml);
    return 0;
  }
  fs.mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, 'asyncapi.yaml');
  fs.writeFileSync(file, yaml);
  out(`wrote ${file}\n`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  // A reader that stops early (`npm run asyncapi | head`) is not an error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(0);
  });
  process.exitCode = main(process.argv.slice(2));
}

import { SAGA_CATALOG } from '../machines/catalog.ts';
import { AEROALPES_MESSAGES, type MessageCatalog } from '../machines/messages.ts';
import type { ParticipantModule } from './participants/declare.ts';
import { gds } from './participants/gds.ts';
import { notificaciones } from './participants/notificaciones.ts';
import { pagos } from './participants/pagos.ts';
import { vuelos } from './participants/vuelos.ts';

/** A service of the system: its process, its default HTTP port, and the participant it runs (none for the coordinator). */
export interface ServiceEntry {
  name: string;
  port: number;
  participant?: ParticipantModule;
}

/** A saga type, the style that runs it and the service whose process runs it. */
export interface SagaEntry {
  style: 'orchestration' | 'choreography';
  runBy: string;
  saga: { type: string; version: number };
}

/**
 * What a system is made of: its services, its saga types and its messages. The processes
 * (`services/process.ts` for one service, `services/system.ts` for all in one), the ports and
 * replicas of `npm run services`, `/ui`, `npm run viz` and the compose test read it from here.
 */
export interface Application {
  services: readonly ServiceEntry[];
  sagas: readonly SagaEntry[];
  messages: MessageCatalog;
}

/**
 * The AeroAlpes system (domain.md). Adding a participant is one entry here, after its
 * module (`services/participants/<name>.ts`); its port is also published by docker-compose.yml,
 * which test/compose.test.ts holds to this list.
 *
 * @example
 * AEROALPES.services.map((s) => `${s.name}:${s.port}`); // ['coordinator:3000', 'vuelos:3001', …]
 */
export const AEROALPES = {
  services: [
    { name: 'coordinator', port: 3000 },
    { name: 'vuelos', port: 3001, participant: vuelos },
    { name: 'pagos', port: 3002, participant: pagos },
    { name: 'gds', port: 3003, participant: gds },
    { name: 'notificaciones', port: 3004, participant: notificaciones },
  ],
  sagas: SAGA_CATALOG,
  messages: AEROALPES_MESSAGES,
} as const satisfies Application;

/** The participant a service runs in `application`, if any. */
export function participantOf(application: Application, service: string): ParticipantModule | undefined {
  return application.services.find((entry) => entry.name === service)?.participant;
}

/** The sagas of one style (what one process running the whole system registers). */
export function sagasIn(application: Application, style: SagaEntry['style']): SagaEntry['saga'][] {
  return application.sagas.filter((entry) => entry.style === style).map((entry) => entry.saga);
}

/** The saga a service's process runs in a style, if any. */
export function sagaOfService(application: Application, service: string, style: SagaEntry['style']): SagaEntry['saga'] | undefined {
  return application.sagas.find((entry) => entry.style === style && entry.runBy === service)?.saga;
}

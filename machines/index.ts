export * from './messages.ts';
export * from './reserva.ts';

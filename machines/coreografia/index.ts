export * from './gds.ts';
export * from './pagos.ts';
export * from './seguimiento.ts';
export * from './shared.ts';
export * from './vuelos.ts';
export * from './edge-part.ts';
export * from './step-part.ts';

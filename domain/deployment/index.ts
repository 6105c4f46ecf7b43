export * from './cycle';
export * from './spec';

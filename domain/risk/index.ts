export * from './gate';
export * from './limits';

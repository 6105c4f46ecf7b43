export * from './policy';
export * from './status';

/** ApplicationFailure types thrown by activities and named in retry policies. */
export const ErrorType = {
  InvalidInput: 'InvalidInput',
  NoBars: 'NoBars',
  JobNotFound: 'JobNotFound',
} as const;

export type ErrorType = (typeof ErrorType)[keyof typeof ErrorType];

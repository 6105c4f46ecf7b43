/** Task queue names; imported by workflows, workers, clients and tests. */
export const TASK_QUEUES = {
  cpu: 'cpu',
  io: 'io',
} as const;

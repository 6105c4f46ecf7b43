/**
 * A trade approval request's life: pending until enough approvers agree (approved), one rejects (rejected) or its
 * time is up (expired); an approved request ends executed (its order placed) or failed (the re-check refused it).
 */
export const APPROVAL_STATUSES = ['pending', 'approved', 'rejected', 'expired', 'executed', 'failed'] as const;
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];

/**
 * Today's violations of the layer rules in .dependency-cruiser.cjs, each with the issue-9 item that removes it.
 * The check passes with them and every one stays visible here. Delete an entry in the change that removes the
 * violation: test/architecture.test.ts fails while an entry names a dependency that no longer breaks its rule.
 * The tooling rules (harness/, test/, bench/, chaos/, scripts/) have no exceptions.
 */
const KNOWN = {
  'workflows-import-only-domain-workflows-and-activity-types': [
    // issue 9 item 6: workflows/notifications/send.ts is dead code, deleted or wired there.
    { from: 'workflows/notifications/send.ts', to: 'notify/message.ts' },
    // issue 9 item 4 (no item names it; its "one vocabulary, rows mapped in one place per table" is the closest):
    // the approval status vocabulary is a db row type today and belongs in domain/approvals.
    { from: 'workflows/approval/workflow.ts', to: 'db/sql/approvals.ts' },
    { from: 'workflows/approval/messages.ts', to: 'db/sql/approvals.ts' },
  ],
};

const KNOWN_CYCLES = [];

module.exports = { KNOWN, KNOWN_CYCLES };

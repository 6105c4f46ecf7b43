-- Up Migration

-- The intraday scanner's lifecycle phase (domain/deployment/scanner.ts), written by its runtime when it changes, so
-- the API lists it without asking every runtime. NULL for a deployment that is not a scanner.
ALTER TABLE deployments ADD COLUMN phase text CHECK (phase IN ('idle', 'scanning', 'holding', 'exiting'));

-- Down Migration
ALTER TABLE deployments DROP COLUMN phase;

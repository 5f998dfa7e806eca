-- Columns the evaluation writes beyond the contract columns of 30_results.sql (idempotent).
ALTER TABLE results.task_accuracy ADD COLUMN IF NOT EXISTS n_train BIGINT;
ALTER TABLE results.task_accuracy ADD COLUMN IF NOT EXISTS n_test BIGINT;

ALTER TABLE results.model_stealing ADD COLUMN IF NOT EXISTS queries_used BIGINT;  -- min(budget, auxiliary items)

ALTER TABLE results.membership_inference ADD COLUMN IF NOT EXISTS tpr_at_1pct_fpr_ci_low DOUBLE;
ALTER TABLE results.membership_inference ADD COLUMN IF NOT EXISTS tpr_at_1pct_fpr_ci_high DOUBLE;
ALTER TABLE results.membership_inference ADD COLUMN IF NOT EXISTS tpr_at_01pct_fpr_ci_low DOUBLE;
ALTER TABLE results.membership_inference ADD COLUMN IF NOT EXISTS tpr_at_01pct_fpr_ci_high DOUBLE;
ALTER TABLE results.membership_inference ADD COLUMN IF NOT EXISTS n_members BIGINT;
ALTER TABLE results.membership_inference ADD COLUMN IF NOT EXISTS n_nonmembers BIGINT;
ALTER TABLE results.membership_inference ADD COLUMN IF NOT EXISTS n_reference BIGINT;  -- LiRA's reference models

ALTER TABLE results.adversarial ADD COLUMN IF NOT EXISTS n_samples BIGINT;

-- STRIP and NEO are input-level: rates over held-out clean inputs and, where the card names the trigger, triggered ones
ALTER TABLE results.backdoor_detection ADD COLUMN IF NOT EXISTS threshold DOUBLE;
ALTER TABLE results.backdoor_detection ADD COLUMN IF NOT EXISTS false_rejection_rate DOUBLE;
ALTER TABLE results.backdoor_detection ADD COLUMN IF NOT EXISTS detection_rate DOUBLE;
ALTER TABLE results.backdoor_detection ADD COLUMN IF NOT EXISTS trigger_located_rate DOUBLE;

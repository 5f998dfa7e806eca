-- Attack metrics per model (contract). Every row carries who/what/where computed it; `origin` is
-- 'computed' for our own evaluations and 'published:securitynet' for the study's published figures.
-- Re-evaluating with the same config_hash replaces that config's rows; a new config adds rows.
CREATE TABLE IF NOT EXISTS results.task_accuracy (
    model_id VARCHAR NOT NULL, revision VARCHAR, dataset VARCHAR, origin VARCHAR NOT NULL,
    config_hash VARCHAR, device VARCHAR, runtime_s DOUBLE, computed_at TIMESTAMPTZ,
    train_accuracy DOUBLE, test_accuracy DOUBLE, overfit_gap DOUBLE
);

CREATE TABLE IF NOT EXISTS results.model_stealing (
    model_id VARCHAR NOT NULL, revision VARCHAR, dataset VARCHAR, origin VARCHAR NOT NULL,
    config_hash VARCHAR, device VARCHAR, runtime_s DOUBLE, computed_at TIMESTAMPTZ,
    aux_dataset VARCHAR, query_budget BIGINT, surrogate_arch VARCHAR, label_only BOOLEAN,
    stealing_accuracy DOUBLE, agreement DOUBLE
);

CREATE TABLE IF NOT EXISTS results.membership_inference (
    model_id VARCHAR NOT NULL, revision VARCHAR, dataset VARCHAR, origin VARCHAR NOT NULL,
    config_hash VARCHAR, device VARCHAR, runtime_s DOUBLE, computed_at TIMESTAMPTZ,
    attack VARCHAR NOT NULL, auc DOUBLE, auc_ci_low DOUBLE, auc_ci_high DOUBLE,
    tpr_at_1pct_fpr DOUBLE, tpr_at_01pct_fpr DOUBLE,
    roc_fpr DOUBLE[], roc_tpr DOUBLE[]      -- log-scale ROC points
);

CREATE TABLE IF NOT EXISTS results.adversarial (
    model_id VARCHAR NOT NULL, revision VARCHAR, dataset VARCHAR, origin VARCHAR NOT NULL,
    config_hash VARCHAR, device VARCHAR, runtime_s DOUBLE, computed_at TIMESTAMPTZ,
    setting VARCHAR NOT NULL, attack VARCHAR NOT NULL, epsilon DOUBLE,
    clean_accuracy DOUBLE, robust_accuracy DOUBLE, accuracy_drop DOUBLE
);

CREATE TABLE IF NOT EXISTS results.backdoor_detection (
    model_id VARCHAR NOT NULL, revision VARCHAR, dataset VARCHAR, origin VARCHAR NOT NULL,
    config_hash VARCHAR, device VARCHAR, runtime_s DOUBLE, computed_at TIMESTAMPTZ,
    detector VARCHAR NOT NULL, flagged BOOLEAN, score DOUBLE,
    target_label INTEGER,                   -- the label a detector names, where it names one
    per_label_norms DOUBLE[],               -- Neural Cleanse's trigger norms per label
    hardware VARCHAR
);

-- Published results beyond SecurityNet (docs/published_results.md): RobustBench's leaderboards
-- (origin 'published:robustbench', sn_lake/catalog/robustbench.py) and timm's result tables
-- (origin 'published:timm', sn_lake/catalog/timm_results.py); our own rows are origin 'computed'.

-- Threat-model columns of every adversarial row, ours too (contract: norm, n_examples, attack_config, seed).
ALTER TABLE results.adversarial ADD COLUMN IF NOT EXISTS norm VARCHAR;            -- Linf, L2
ALTER TABLE results.adversarial ADD COLUMN IF NOT EXISTS n_examples BIGINT;       -- test points attacked
-- attack_config: JSON with steps, step_size, restarts, queries (and what else the attack takes)
ALTER TABLE results.adversarial ADD COLUMN IF NOT EXISTS attack_config VARCHAR;
ALTER TABLE results.adversarial ADD COLUMN IF NOT EXISTS seed BIGINT;
-- what RobustBench states beside its figures
-- unreliable: flagged by RobustBench (NULL: not stated); additional_data: trained with data beyond the train set;
-- external: the robust accuracy an external evaluation found
ALTER TABLE results.adversarial ADD COLUMN IF NOT EXISTS unreliable BOOLEAN;
ALTER TABLE results.adversarial ADD COLUMN IF NOT EXISTS additional_data BOOLEAN;
ALTER TABLE results.adversarial ADD COLUMN IF NOT EXISTS external DOUBLE;

-- Accuracy under common corruptions (contract: model_id, dataset, corruption, severity, accuracy, origin).
CREATE TABLE IF NOT EXISTS results.corruption (
    model_id VARCHAR NOT NULL, revision VARCHAR, dataset VARCHAR, origin VARCHAR NOT NULL,
    config_hash VARCHAR, device VARCHAR, runtime_s DOUBLE, computed_at TIMESTAMPTZ,
    benchmark VARCHAR,              -- cifar10-c, cifar100-c, imagenet-c, imagenet-3dcc
    corruption VARCHAR NOT NULL,    -- e.g. gaussian_noise; 'all' for the mean over the benchmark
    severity INTEGER,               -- 1 (mild) to 5; NULL for 'all'
    accuracy DOUBLE,
    clean_accuracy DOUBLE,          -- the model's clean accuracy as published beside it
    mce DOUBLE                      -- mean corruption error relative to AlexNet (ImageNet 'all' rows), 1.0 = AlexNet's
);

-- Accuracy on shifted test sets (contract: model_id, dataset, top1, top5, top1_diff, origin).
CREATE TABLE IF NOT EXISTS results.distribution_shift (
    model_id VARCHAR NOT NULL, revision VARCHAR, dataset VARCHAR, origin VARCHAR NOT NULL,
    config_hash VARCHAR, device VARCHAR, runtime_s DOUBLE, computed_at TIMESTAMPTZ,
    base_dataset VARCHAR,           -- the set the shift is measured against, e.g. imagenet-1k
    top1 DOUBLE, top5 DOUBLE,
    top1_diff DOUBLE, top5_diff DOUBLE,  -- against the clean run (ImageNet-A/-R: its 200 classes only)
    rank_diff INTEGER,              -- rank on the shifted set minus rank on the clean set (timm's table)
    img_size INTEGER, crop_pct DOUBLE, interpolation VARCHAR,
    param_count DOUBLE              -- millions of parameters
);

-- timm's table states top-5 and the evaluation's preprocessing beside top-1.
ALTER TABLE results.task_accuracy ADD COLUMN IF NOT EXISTS top5_accuracy DOUBLE;
-- eval_config: JSON with img_size, crop_pct, interpolation
ALTER TABLE results.task_accuracy ADD COLUMN IF NOT EXISTS eval_config VARCHAR;

-- Every RobustBench leaderboard record as it states itself, in the catalog or not (in_catalog = FALSE:
-- catalog.quarantine holds the rule and reason). Accuracies are fractions; epsilon is a number (8/255 = 0.0314).
CREATE TABLE IF NOT EXISTS catalog.robustbench_entries (
    path                    VARCHAR PRIMARY KEY,   -- '<dataset>/<threat model>/<name>.json' under model_info/
    model_id                VARCHAR NOT NULL,      -- 'robustbench:<dataset>/<threat model>/<name>'
    in_catalog              BOOLEAN NOT NULL,
    dataset                 VARCHAR,               -- canonical id of the leaderboard: cifar10, cifar100, imagenet-1k
    threat_model            VARCHAR,               -- Linf, L2, corruptions
    norm                    VARCHAR,               -- Linf, L2; NULL for corruptions
    name                    VARCHAR,
    title                   VARCHAR,               -- the paper's title
    authors                 VARCHAR,
    n_authors               INTEGER,
    paper_url               VARCHAR,
    paper_id                VARCHAR,               -- arXiv id, NULL for other links
    venue                   VARCHAR,               -- as written, e.g. 'NeurIPS 2019', 'arXiv, Oct 2020'
    venue_normalized        VARCHAR,               -- sn_lake.annotate.venues.normalize_venue(venue)
    venue_type              VARCHAR,
    year                    INTEGER,               -- the venue's year, else the arXiv id's
    architecture_as_written VARCHAR,
    architecture            VARCHAR,
    dataset_stated          VARCHAR,               -- the record's own 'dataset' field
    additional_data         BOOLEAN,
    number_forward_passes   INTEGER,
    epsilon_as_written      VARCHAR,
    epsilon                 DOUBLE,
    epsilon_reading         VARCHAR,               -- e.g. '0.031 read as 8/255'; NULL when read as written
    clean_accuracy          DOUBLE,
    robust_accuracy         DOUBLE,                -- AutoAttack
    reported_accuracy       DOUBLE,                -- the paper's own claim
    external_accuracy       DOUBLE,
    unreliable              BOOLEAN,
    corruptions_accuracy    DOUBLE,
    corruptions_accuracy_3d DOUBLE,
    corruptions_mce         DOUBLE,
    corruptions_mce_3d      DOUBLE,
    footnote                VARCHAR,
    record_sha256           VARCHAR,
    fetched_at              TIMESTAMPTZ
);

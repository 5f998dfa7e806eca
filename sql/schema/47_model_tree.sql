-- The model tree (contract): which model descends from which, as the models declare it
-- (sn_lake/annotate/lineage.py). One row per (child, parent); a merge has several parents.
--   relation: finetune, adapter, merge, quantized or unknown
--   evidence: card (base_model in the card's YAML, else "fine-tuned version of [X]" in its body),
--             tag (the Hub's base_model:<relation>:<id> / base_model:<id> tags)
--             or model_info (the listing's baseModels)
-- parent_id is the parent's catalog id where the catalog knows it, else 'huggingface:<id as declared>'
-- (a parent outside the catalog). Rebuilt with catalog.models; analytics.model_lineage walks it.
CREATE TABLE IF NOT EXISTS catalog.model_tree (
    child_id  VARCHAR NOT NULL,
    parent_id VARCHAR NOT NULL,
    relation  VARCHAR NOT NULL,
    evidence  VARCHAR NOT NULL,
    PRIMARY KEY (child_id, parent_id)
);

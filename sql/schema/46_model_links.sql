-- Cross-source links: the same weights on the Hub, on Kaggle, in timm's registry and in a paper's
-- release (sn_lake/annotate/links.py). Each link is stored in both directions, so
--   SELECT * FROM catalog.model_links WHERE model_id = 'timm:resnet18.a1_in1k'
-- lists everything linked to one model.
CREATE TABLE IF NOT EXISTS catalog.model_links (
    model_id        VARCHAR NOT NULL,
    linked_model_id VARCHAR NOT NULL,
    link_type       VARCHAR NOT NULL,   -- same_weights_url, same_hub_id, same_paper_and_family
    evidence        VARCHAR NOT NULL,   -- the shared URL, hub id or 'paper_id + family'
    PRIMARY KEY (model_id, linked_model_id, link_type)
);

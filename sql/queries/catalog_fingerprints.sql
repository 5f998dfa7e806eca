-- `sn-lake crawl`'s summary of the models that entered, changed or left the catalog: one fingerprint per
-- model over its revision and annotated facts (seen-at times and download/like counters aside: they move
-- at every crawl without the model changing).
SELECT model_id, source,
       md5(CAST(struct_pack(revision, name, architecture, model_type, dataset, data_category, num_classes,
                            input_size, library, license, paper_id, purpose, weights_url, reported_accuracy,
                            base_model, has_safetensors, known_backdoor) AS VARCHAR)) AS fingerprint
FROM catalog.models

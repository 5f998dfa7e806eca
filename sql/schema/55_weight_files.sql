-- The files behind catalog.models.weights_url on GitHub (release assets, repository files) and Zenodo
-- (record files), rebuilt by sn_lake/catalog/weights.py from the lake's API answers (lake/raw/weights/).
-- One row per (model, file) with status 'found'; a model whose link gives no file has one row whose
-- status says why: no_weight_files, not_found, ambiguous, unsupported_host, not_fetched.
CREATE TABLE IF NOT EXISTS catalog.weight_files (
    model_id    VARCHAR NOT NULL,
    url         VARCHAR,           -- download URL of the file
    filename    VARCHAR,
    size_bytes  BIGINT,
    checksum    VARCHAR,           -- as the host states it: 'md5:...' (Zenodo), 'sha256:...' (GitHub assets), 'git-sha1:...' (GitHub files)
    format      VARCHAR,           -- safetensors, pytorch-state-dict, pickle, tensorflow, other
    format_from VARCHAR,           -- name, or bytes (the file's first bytes were read)
    compression VARCHAR,           -- zip, tar.gz, gz, ... when the file is an archive of the weights
    origin      VARCHAR,           -- github-release:<tag>, github-contents, zenodo
    matched_by  VARCHAR,           -- name, link, dataset, only_file, all_files_of_link
    status      VARCHAR NOT NULL,  -- found, or why there is no file
    detail      VARCHAR,
    weights_url VARCHAR,           -- the catalog's link
    fetched_at  TIMESTAMPTZ
);

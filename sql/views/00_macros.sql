-- Statistics shared by the analytics views, written once.
--
-- Spearman's rho is Pearson's r over ranks, with tied values given the average of the ranks they
-- span. A view computes it in two steps: rank each variable inside its group with
-- analytics.spearman_rank(value, grp) (a window expression, so it goes in a CTE), then aggregate
-- with analytics.pearson_r(rank_x, rank_y). Rank only complete pairs (filter out rows where either
-- variable is NULL first), otherwise the ranks count values the correlation never sees.
CREATE OR REPLACE MACRO analytics.spearman_rank(v, grp) AS
    CASE WHEN v IS NOT NULL THEN
        rank() OVER (PARTITION BY grp, v IS NULL ORDER BY v)
        + (count(*) OVER (PARTITION BY grp, v) - 1) / 2.0
    END;

-- Pearson's r over the complete (x, y) pairs; NULL below 3 pairs and when either side is constant.
CREATE OR REPLACE MACRO analytics.pearson_r(x, y) AS
    CASE WHEN count(x + y) >= 3 AND NOT isnan(corr(x, y)) THEN corr(x, y) END;

-- Wilson score interval at 95% for k successes out of n trials; NULL when n = 0.
CREATE OR REPLACE MACRO analytics.wilson_low(k, n) AS
    CASE WHEN n > 0 THEN
        ((k / n) + 1.959963984540054 ^ 2 / (2 * n)
         - 1.959963984540054 * sqrt((k / n) * (1 - k / n) / n + 1.959963984540054 ^ 2 / (4 * n * n)))
        / (1 + 1.959963984540054 ^ 2 / n)
    END;

CREATE OR REPLACE MACRO analytics.wilson_high(k, n) AS
    CASE WHEN n > 0 THEN
        ((k / n) + 1.959963984540054 ^ 2 / (2 * n)
         + 1.959963984540054 * sqrt((k / n) * (1 - k / n) / n + 1.959963984540054 ^ 2 / (4 * n * n)))
        / (1 + 1.959963984540054 ^ 2 / n)
    END;

-- The membership-inference attack a name denotes: 'm_entropy' (Song & Mittal's modified entropy,
-- SecurityNet's "M_entropy AUC") or 'correctness' (SecurityNet's "Correct Auc"); other names pass
-- through lower-cased with separators removed.
CREATE OR REPLACE MACRO analytics.mia_attack_kind(attack) AS
    CASE regexp_replace(lower(attack), '[^a-z]', '', 'g')
        WHEN 'mentropy' THEN 'm_entropy'
        WHEN 'modifiedentropy' THEN 'm_entropy'
        WHEN 'mentr' THEN 'm_entropy'
        WHEN 'correctness' THEN 'correctness'
        WHEN 'correct' THEN 'correctness'
        ELSE regexp_replace(lower(attack), '[^a-z]', '', 'g')
    END;

-- Whether a catalog row's weights can be loaded without running code: safetensors files, timm's
-- registry (served as safetensors from the Hub), or a raw checkpoint that torch.load(weights_only=True)
-- reads. Call it with a catalog.models row's columns.
CREATE OR REPLACE MACRO analytics.has_loadable_weights(has_safetensors, library, weights_url) AS
    CASE
        WHEN has_safetensors THEN true
        WHEN weights_url IS NULL THEN false
        WHEN library = 'timm' THEN true
        ELSE coalesce(list_contains(['safetensors', 'pth', 'pt', 'bin', 'ckpt'],
                                    lower(split_part(split_part(weights_url, '?', 1), '.', -1))), false)
    END;

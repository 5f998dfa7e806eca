-- `sn-lake run`'s closing table: one line per demo-zoo model with a headline figure of each attack family.
SELECT m.model_id, m.known_backdoor,
       round(any_value(t.train_accuracy), 3) AS train_acc, round(any_value(t.test_accuracy), 3) AS test_acc,
       round(max(s.agreement), 3) AS steal_agreement,
       round(max(i.auc) FILTER (WHERE i.attack = 'modified_entropy'), 3) AS mia_auc_mentr,
       round(min(a.robust_accuracy) FILTER (WHERE a.attack = 'pgd' AND a.setting = 'white-box'), 3) AS pgd_robust_acc_8,
       bool_or(b.flagged) FILTER (WHERE b.detector = 'neural_cleanse') AS nc_flagged,
       bool_or(b.flagged) FILTER (WHERE b.detector = 'strip') AS strip_flagged,
       bool_or(b.flagged) FILTER (WHERE b.detector = 'neo') AS neo_flagged
FROM catalog.models m
LEFT JOIN results.task_accuracy t USING (model_id)
LEFT JOIN results.model_stealing s USING (model_id)
LEFT JOIN results.membership_inference i USING (model_id)
LEFT JOIN results.adversarial a USING (model_id)
LEFT JOIN results.backdoor_detection b USING (model_id)
WHERE m.source = 'local'
GROUP BY ALL ORDER BY 1

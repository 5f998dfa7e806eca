"""timm's published result tables (``results/`` of huggingface/pytorch-image-models) as a source: ImageNet-1k
top-1/top-5 of every timm weight with an ImageNet-1k head, and the same models on ImageNet-ReaL, ImageNetV2
(matched frequency), ImageNet-Sketch, ImageNet-A and ImageNet-R.

``crawl.py`` fetches the six CSVs (a local copy or the upstream raw files) into ``lake/raw/timm_results/``;
``parse.py`` reads them into typed rows; ``sn_lake/catalog/timm_results.py`` writes the published results, links
and reported accuracies (docs/published_results.md).
"""

SOURCE = "timm_results"

"""timm's pretrained registry: the ~1,800 public weight configs that ship inside the timm package.

A crawl (``crawl.py``) snapshots the whole registry as one lake step (it is local, so there is nothing to page
through, and the records need no parsing beyond their JSON); ``sn_lake/catalog/timm_registry.py`` keeps the latest
snapshot of each model and when it was first and last seen.
"""

SOURCE = "timm"

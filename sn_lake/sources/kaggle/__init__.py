"""Kaggle Models through kagglesdk: the image classifiers, one raw record per framework variation.

A crawl (``crawl.py``) pages through ``ListModels`` (``pageToken``), keeps the models whose tags or title say
*image classification*, and fetches ``GetModel`` (description, dates, votes) and every page of
``ListModelInstances`` (framework, licence, training data, variation) for each. Each listing page
is one lake step, and the next page token is persisted after every page, so a killed crawl resumes
at the page it stopped on; a re-fetched page overwrites its own step file, so nothing is duplicated.
The API client is ``sn_lake.kaggle_client``; ``parse.py`` reads the records; ``sn_lake/catalog/kaggle.py`` builds
the catalog rows.
"""

SOURCE = "kaggle"

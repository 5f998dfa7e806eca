"""Crawl assets: each fetches one source into ``lake/raw/<source>/``."""

import dagster as dg

from assets.resources import SnLake
from sn_lake import lake
from sn_lake.catalog.contract import crawl_asset
from sn_lake.config import Settings
from sn_lake.http_client import HttpError, RetryPolicy
from sn_lake.sources.huggingface import crawl as huggingface
from sn_lake.sources.kaggle import crawl as kaggle
from sn_lake.sources.local import crawl as local
from sn_lake.sources.robustbench import crawl as robustbench_crawl
from sn_lake.sources.securitynet import crawl as securitynet
from sn_lake.sources.timm_registry import crawl as timm_registry
from sn_lake.sources.timm_results import crawl as timm_results_crawl


def reachable_check(source: str, description: str) -> dg.AssetCheckSpec:
    """The WARN check ``<source>_reachable`` of the crawl asset ``raw_<source>``: did the source answer this run."""
    return dg.AssetCheckSpec(f"{source}_reachable", asset=crawl_asset(source), description=description)


def location_check(source: str, setting: str) -> dg.AssetCheckSpec:
    """The reachable check of a source read from one location setting (``SN_LAKE_<SOURCE>_URL``)."""
    return reachable_check(
        source, f"WARN when {setting} could not be fetched; the catalog then keeps what the lake holds."
    )


def unreachable_status(settings: Settings, source: str, exc: Exception, **where: str) -> dict:
    """What a crawl that could not reach its source reports: where it looked, the error, and how many finished
    crawls the lake holds (the catalog keeps building from them)."""
    held = len(lake.finished_crawls(settings, source))
    return {"status": "unreachable", **where, "error": str(exc)[:500], "crawls_in_lake": held}


def unreachable(check: str, status: dict) -> dg.MaterializeResult:
    """A crawl's result when its source could not be reached: ``status`` as metadata, and the failed WARN check."""
    warn = dg.AssetCheckSeverity.WARN
    failed = dg.AssetCheckResult(check_name=check, passed=False, severity=warn, metadata=status)
    return dg.MaterializeResult(metadata=status, check_results=[failed])


@dg.asset(group_name="crawl", kinds={"python", "parquet"})
def raw_timm(context: dg.AssetExecutionContext, sn_lake: SnLake) -> dg.MaterializeResult:
    """timm's pretrained registry (hub ids, architectures, tags, licences, papers) snapshotted into the lake."""
    summary = timm_registry.crawl(sn_lake.settings())
    context.log.info(f"timm crawl {summary['crawl_id']}: {summary['records']} records")
    return dg.MaterializeResult(metadata={k: v for k, v in summary.items() if v is not None})


@dg.asset(
    group_name="crawl",
    kinds={"python", "parquet"},
    check_specs=[location_check("securitynet", "SN_LAKE_SECURITYNET_URL")],
)
def raw_securitynet(context: dg.AssetExecutionContext, sn_lake: SnLake) -> dg.MaterializeResult:
    """The SecurityNet database table (benchmark, security-research and new models) kept whole in the lake."""
    settings = sn_lake.settings()
    try:
        summary = securitynet.crawl(settings)
    except securitynet.SourceUnreachable as exc:
        if not securitynet.is_url(settings.securitynet_url):
            raise  # a local path that is not there is a configuration error, not an outage
        status = unreachable_status(settings, securitynet.SOURCE, exc, url=settings.securitynet_url)
        held = status["crawls_in_lake"]
        context.log.warning(
            f"{exc} Nothing new was crawled; the catalog keeps the {held} earlier crawl(s) the lake holds."
        )
        return unreachable("securitynet_reachable", status)
    context.log.info(
        f"securitynet crawl {summary['crawl_id']}: {summary['table_rows']} table rows from {summary['url']}"
    )
    return dg.MaterializeResult(
        metadata={"status": "fetched", **summary},
        check_results=[
            dg.AssetCheckResult(check_name="securitynet_reachable", passed=True, metadata={"url": summary["url"]})
        ],
    )


_HF = huggingface.CrawlConfig()  # the crawl's defaults, set once in sn_lake.sources.huggingface.crawl.CrawlConfig


class HuggingFaceCrawlConfig(dg.Config):
    """Run config of ``raw_huggingface`` (``sn-lake crawl huggingface --limit N --full --max-requests N
    --max-minutes M`` sets limit, full, max_requests and max_seconds)."""

    limit: int | None = _HF.limit  # stop the listing after this many models
    full: bool = _HF.full  # start a new sweep and re-fetch cards already in the lake
    pipeline_tag: str | None = _HF.pipeline_tag
    library: str | None = _HF.library
    author: str | None = _HF.author
    search: str | None = _HF.search
    # opt-in budgets of the card pass (none by default: it runs until every needed card is in the lake, paced by the
    # Hub's RateLimit headers); what a budget leaves is reported as cards_pending and fetched first next run
    card_cap: int | None = _HF.card_cap  # cards fetched this run
    max_requests: int | None = _HF.max_requests  # requests this run (the listing's included)
    max_seconds: float | None = _HF.max_seconds  # seconds this run
    card_concurrency: int = _HF.card_concurrency
    retry_attempts: int = _HF.retry.attempts  # tries per request (429/5xx/timeouts/broken bodies) before the run fails


@dg.asset(
    group_name="crawl",
    kinds={"huggingface", "parquet"},
    retry_policy=dg.RetryPolicy(max_retries=2, delay=60, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS),
    check_specs=[
        reachable_check(
            "huggingface", "WARN when HF_ENDPOINT could not be reached; the catalog then keeps what the lake holds."
        )
    ],
)
def raw_huggingface(
    context: dg.AssetExecutionContext, sn_lake: SnLake, config: HuggingFaceCrawlConfig
) -> dg.MaterializeResult:
    """Public Hugging Face models (listing metadata, and model cards where the listing lacks facts) crawled into the
    lake; resumes a killed crawl."""
    settings = sn_lake.settings()
    options = config.model_dump()
    retry = RetryPolicy(attempts=options.pop("retry_attempts"))
    crawl_config = huggingface.CrawlConfig(**options, retry=retry)
    try:
        summary = huggingface.crawl(settings, crawl_config, logger=context.log)
    except HttpError as exc:
        if exc.status is not None and 400 <= exc.status < 500 and exc.status not in (408, 429):
            # a bad filter or token: retrying cannot help
            raise dg.Failure(description=str(exc), allow_retries=False) from exc
        if exc.status is not None:
            raise  # the Hub kept failing (5xx, 429): fail so the retry policy resumes the crawl
        status = unreachable_status(settings, huggingface.SOURCE, exc, endpoint=settings.hf_endpoint)
        held = status["crawls_in_lake"]
        context.log.warning(
            f"{exc} The crawl resumes next run; the catalog keeps the {held} finished crawl(s) the lake holds."
        )
        if (pending := huggingface.pending_cards(settings)["pending"]) is not None:
            status["cards_pending"] = pending
        return unreachable("huggingface_reachable", status)
    return dg.MaterializeResult(
        metadata={
            "status": "fetched",
            **{k: v for k, v in summary.items() if v is not None},
            **huggingface.config_summary(crawl_config),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="huggingface_reachable", passed=True, metadata={"endpoint": summary["endpoint"]}
            )
        ],
    )


class KaggleCrawlConfig(dg.Config):
    """Run config of ``raw_kaggle``."""

    search: str | None = kaggle.DEFAULT_SEARCH  # ListModels' search text; the crawl keeps image classifiers only
    page_size: int = 50


@dg.asset(
    group_name="crawl",
    kinds={"kaggle", "parquet"},
    check_specs=[
        reachable_check(
            "kaggle",
            "WARN when Kaggle's public API could not be reached, kept failing or refused an anonymous crawl; "
            "the catalog keeps what the lake holds.",
        )
    ],
)
def raw_kaggle(context: dg.AssetExecutionContext, sn_lake: SnLake, config: KaggleCrawlConfig) -> dg.MaterializeResult:
    """Kaggle Models' image classifiers, one raw record per framework variation (kagglesdk); resumes a killed crawl."""
    settings = sn_lake.settings()
    public = (settings.kaggle_environment or "PROD").upper() == "PROD"
    try:
        summary = kaggle.crawl(settings, search=config.search, page_size=config.page_size)
    except kaggle.KaggleError as exc:
        refused_token = settings.kaggle_token is not None and exc.status in (401, 403)
        if not public or refused_token:
            raise  # a configured environment or token that fails is a mistake to fix, not an outage
        # the public API refused an anonymous crawl or kept failing: warn, keep the page token, resume next run
        summary = {
            "status": "unauthenticated" if exc.status in (401, 403) else "failed",
            "endpoint": "https://api.kaggle.com",
            "detail": str(exc),
        }
    if summary["status"] != "ok":
        held = len(lake.finished_crawls(settings, kaggle.SOURCE))
        context.log.warning(
            f"Kaggle crawl skipped ({summary['status']}): {summary.get('detail')} "
            f"The catalog keeps the {held} crawl(s) the lake holds."
        )
        status = {**{k: str(v)[:500] for k, v in summary.items()}, "crawls_in_lake": held}
        return unreachable("kaggle_reachable", status)
    context.log.info(
        f"kaggle crawl {summary['crawl_id']}: {summary['records']} variations, "
        f"{summary['skipped_other_task']} models of other tasks"
    )
    return dg.MaterializeResult(
        metadata={k: (v if not isinstance(v, list) else ", ".join(v)) for k, v in summary.items()},
        check_results=[dg.AssetCheckResult(check_name="kaggle_reachable", passed=True)],
    )


@dg.asset(group_name="crawl", kinds={"pytorch", "parquet"})
def raw_local(context: dg.AssetExecutionContext, sn_lake: SnLake) -> dg.MaterializeResult:
    """The demo zoo (tiny timm digits classifiers, two with a planted BadNets backdoor) built or reused under
    $SN_LAKE_HOME/zoo, and every local model folder there snapshotted into the lake."""
    from sn_lake.evaluate import zoo

    settings = sn_lake.settings()
    built = zoo.build_zoo(local.zoo_root(settings), log=context.log.info, threads=settings.torch_threads)
    summary = local.crawl(settings)
    trained = [m["name"] for m in built if not m["cached"]]
    return dg.MaterializeResult(metadata={**summary, "zoo_models": len(built), "trained_now": trained})


def _published_tables(
    context: dg.AssetExecutionContext, sn_lake: SnLake, crawler, source: str, location: str
) -> dg.MaterializeResult:
    """Crawl one folder of published result files; an unreachable URL is a WARN check, the lake keeps what it holds."""
    settings = sn_lake.settings()
    check = f"{source}_reachable"
    try:
        summary = crawler.crawl(settings)
    except (crawler.SourceUnreachable, HttpError) as exc:
        if not crawler.is_url(location):
            raise  # a local folder that is not there is a configuration error, not an outage
        status = unreachable_status(settings, source, exc, url=location)
        held = status["crawls_in_lake"]
        context.log.warning(f"{exc} Nothing new was crawled; the catalog keeps the lake's {held} earlier crawl(s).")
        return unreachable(check, status)
    context.log.info(f"{source} crawl {summary['crawl_id']}: {summary['records']} records from {summary['url']}")
    return dg.MaterializeResult(
        metadata={"status": "fetched", **{k: v for k, v in summary.items() if v is not None}},
        check_results=[dg.AssetCheckResult(check_name=check, passed=True, metadata={"url": summary["url"]})],
    )


@dg.asset(
    group_name="crawl",
    kinds={"python", "parquet"},
    check_specs=[location_check("robustbench", "SN_LAKE_ROBUSTBENCH_URL")],
)
def raw_robustbench(context: dg.AssetExecutionContext, sn_lake: SnLake) -> dg.MaterializeResult:
    """RobustBench's leaderboard records (model_info/: clean, AutoAttack and claimed robust accuracy, threat model,
    paper) and its per-corruption tables, one raw record per file."""
    return _published_tables(context, sn_lake, robustbench_crawl, "robustbench", sn_lake.settings().robustbench_url)


@dg.asset(
    group_name="crawl",
    kinds={"python", "parquet"},
    check_specs=[location_check("timm_results", "SN_LAKE_TIMM_RESULTS_URL")],
)
def raw_timm_results(context: dg.AssetExecutionContext, sn_lake: SnLake) -> dg.MaterializeResult:
    """timm's published result tables (results/: ImageNet-1k top-1/top-5 and five shifted test sets), one raw
    record per table."""
    return _published_tables(context, sn_lake, timm_results_crawl, "timm_results", sn_lake.settings().timm_results_url)
